"""Read a configuration file within bounds, and explain YAML syntax errors.

A 501-byte ``keywords.yaml`` of nested aliases (a "billion laughs") expanded to
hundreds of millions of nodes and froze ``monitor run`` (issue 10 item 1).  So a
configuration file is refused before it is parsed when it is larger than
:data:`MAX_BYTES`, and while it is parsed when it uses an anchor (``&a``), an alias
(``*a``) or a merge key (``<<``), or nests more than :data:`MAX_DEPTH` levels deep:
the refusal comes at the first such node, before anything is expanded.

A plain item continued on a line that starts with ``- `` is also noted: YAML folds
an over-indented ``- Chatkontrolle`` into the item above (``chat control -
Chatkontrolle``), which is never what the maintainer meant (issue 10 item 9).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent

from monitor.errors import ConfigError

MAX_BYTES = 1024 * 1024
"""Largest configuration file read (1 MiB; the shipped files are under 40 KB)."""
MAX_DEPTH = 32
"""Deepest nesting of mappings and lists (the shipped files use at most 7)."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_REFUSED = "configuration files may not use anchors, aliases or merge keys"


def read_text(path: str | os.PathLike[str]) -> str:
    """The text of a configuration file, read only when it is a regular file within
    :data:`MAX_BYTES`.

    Raises:
        ConfigError: the file is missing, not a regular file, too large, unreadable or
            not UTF-8.
    """
    name = str(path)
    try:
        # O_NONBLOCK: a FIFO put in place of the file must not hang the open.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ConfigError("file not found", file=name) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=name) from exc
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError("not a regular file", file=name)
        if info.st_size > MAX_BYTES:
            raise ConfigError(_too_large(info.st_size), file=name)
        try:
            data = fh.read(MAX_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc.strerror}", file=name) from exc
    if len(data) > MAX_BYTES:  # grew since the stat
        raise ConfigError(_too_large(len(data)), file=name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=name) from exc


def _too_large(size: int) -> str:
    return (
        f"the file is {size:,} bytes; a configuration file may have at most "
        f"{MAX_BYTES:,} bytes (1 MiB)"
    )


@dataclass(frozen=True, slots=True)
class MergedItem:
    """A plain scalar continued on a line that starts with ``- `` (0-based positions)."""

    line: int
    column: int
    dash_line: int
    dash_column: int
    value: str


def parse_yaml(text: str, name: str) -> tuple[Any, list[MergedItem]]:
    """Parse YAML text in round-trip mode (line numbers kept), within bounds.

    Raises:
        ConfigError: syntax error (with the line, a caret and a hint), duplicate key,
            anchor, alias, merge key, nesting deeper than :data:`MAX_DEPTH`, or text
            larger than :data:`MAX_BYTES`.
    """
    if len(text) > MAX_BYTES:
        raise ConfigError(_too_large(len(text.encode("utf-8"))), file=name)
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    yaml.Composer = _BoundedComposer
    try:
        root = yaml.load(text)
        merged = list(yaml.composer.merged)
    except _Refused as exc:
        where = excerpt(text.split("\n"), exc.line, exc.column)
        raise ConfigError(exc.message, file=name, line=exc.line + 1, excerpt=where) from None
    except DuplicateKeyError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        key = _duplicate_key_name(exc)
        raise ConfigError(f"duplicate key {key}", file=name, line=line) from None
    except MarkedYAMLError as exc:
        raise syntax_error(exc, text, name) from None
    except YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=name) from None
    return root, merged


class _Refused(Exception):
    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.line = mark.line
        self.column = mark.column


class _BoundedComposer(Composer):
    """ruamel's composer, refusing anchors, aliases, merge keys and deep nesting at the
    first such event (before anything is expanded), and noting merged list items."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.levels = 0
        self.merged: list[MergedItem] = []

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        mark = event.start_mark
        if isinstance(event, AliasEvent):
            raise _Refused(
                f"YAML alias '*{event.anchor}' refused: {_REFUSED} (write the value out; "
                "a value that starts with '*' must be quoted: \"*word\")",
                mark,
            )
        if event.anchor is not None:
            raise _Refused(
                f"YAML anchor '&{event.anchor}' refused: {_REFUSED} (write the value out; "
                "a value that starts with '&' must be quoted: \"&word\")",
                mark,
            )
        self.levels += 1
        if self.levels > MAX_DEPTH:
            raise _Refused(
                f"nested more than {MAX_DEPTH} levels deep (the limit for a configuration file)",
                mark,
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self.levels -= 1

    def compose_scalar_node(self, anchor: Any) -> Any:
        event = self.parser.peek_event()
        node = super().compose_scalar_node(anchor)
        if str(node.tag) == _MERGE_TAG:
            raise _Refused(
                f"YAML merge key '<<' refused: {_REFUSED} (write the keys out)",
                event.start_mark,
            )
        start, end = event.start_mark, event.end_mark
        if event.style is None and end.line > start.line:
            raw = start.buffer[start.index : end.index].split("\n")
            for offset, continued in enumerate(raw[1:], start=1):
                stripped = continued.lstrip(" ")
                if stripped == "-" or stripped.startswith("- "):
                    dash = (start.line + offset, len(continued) - len(stripped))
                    self.merged.append(MergedItem(start.line, start.column, *dash, event.value))
                    break
        return node


def _duplicate_key_name(exc: DuplicateKeyError) -> str:
    problem = exc.problem or ""
    # ruamel: 'found duplicate key "x" with value "y" (original value: "z")'
    if '"' in problem:
        return repr(problem.split('"')[1])
    return "in mapping"


# -- syntax errors ------------------------------------------------------------------------

_INDENT_HINT = "check the indentation of the line above and of this one"


def syntax_error(exc: MarkedYAMLError, text: str, name: str) -> ConfigError:
    """A ``ConfigError`` for a YAML syntax error: the parser's words, the offending line
    with a caret under the column, and a hint where one applies."""
    lines = text.split("\n")
    mark = exc.problem_mark or exc.context_mark
    problem = str(exc.problem or exc.context or "invalid YAML")
    if exc.context and problem.startswith("but "):
        problem = f"{exc.context}, {problem}"  # "expected a single document ..., but found"
    if mark is None:
        return ConfigError(f"invalid YAML: {problem}", file=name)
    line, column = mark.line, mark.column
    if line >= len(lines) or not lines[line].strip():
        # At the end of the file: point at where the unfinished thing began, else at the
        # end of the last line that says something.
        start = exc.context_mark
        if start is not None and start.line < len(lines) and lines[start.line].strip():
            line, column = start.line, start.column
        else:
            line = min(line, len(lines) - 1)
            while line > 0 and not lines[line].strip():
                line -= 1
            column = len(lines[line].rstrip())
    hint = _hint(problem, exc, lines, line, column)
    where = excerpt(lines, line, column)
    if hint:
        where += f"\n  hint: {hint}"
    return ConfigError(f"invalid YAML: {problem}", file=name, line=line + 1, excerpt=where)


def _hint(problem: str, exc: MarkedYAMLError, lines: list[str], line: int, column: int) -> str:
    here = lines[line] if 0 <= line < len(lines) else ""
    opened = exc.context_mark.line + 1 if exc.context_mark is not None else None
    context = str(exc.context or "")
    if "'\\t'" in problem:
        return "indent with spaces: YAML does not allow tabs for indentation"
    if "another document" in problem:
        return "a line '---' starts a second document: a configuration file has one"
    if "flow sequence" in context or "flow mapping" in context:
        bracket = "[" if "sequence" in context else "{"
        return f"the '{bracket}' on line {opened} is not closed where it should be"
    if problem.startswith("mapping values are not allowed"):
        before = here[:column].strip()
        before = before[1:].strip() if before.startswith("-") else before
        if ":" in before:
            return "a value that contains ': ' must be quoted, e.g. title: \"EU: AI Act\""
        return f"{_INDENT_HINT} (is a ':' missing at the end of the line above?)"
    if "could not find expected ':'" in problem:
        stripped = here.strip()
        if stripped.startswith("-") and not stripped.startswith(("- ", "---")):
            return "a list item needs a space after its '-'"
        return f"{_INDENT_HINT} (is a ':' missing at the end of the line above?)"
    if (
        problem.startswith("expected <block end>")
        or "did not find expected key" in problem
        or "did not find expected '-'" in problem
    ):
        return _INDENT_HINT + " (items of one list, and keys of one mapping, line up)"
    if "end of stream" in problem or "<stream end>" in problem:
        if opened is not None and opened - 1 <= line:
            return f"something opened on line {opened} is never closed"
        return "the file ends inside an unfinished value: is a ']', '}' or a quote missing?"
    return ""


def excerpt(lines: list[str], line: int, column: int) -> str:
    """The line above (when there is one) and the offending line (0-based), numbered,
    with a caret under the column."""
    width = len(str(line + 1))
    out = []
    if line > 0:
        out.append(f"  {line:>{width}} | {lines[line - 1]}")
    out.append(f"  {line + 1:>{width}} | {lines[line]}")
    out.append(f"  {'':>{width}} | {' ' * column}^")
    return "\n".join(out)
