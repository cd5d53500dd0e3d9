"""Read YAML with line numbers and turn validation errors into located ``ConfigError``.

ruamel.yaml keeps the line and column of every key and item; pydantic reports a
location as a tuple of keys.  ``Source.locate`` joins the two so that every message
reads ``keywords.yaml:14: watchlists.ai-act.any[2]: ...``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from monitor.config.bounded import MergedItem, excerpt, parse_yaml, read_text
from monitor.errors import ConfigError, ConfigErrors

M = TypeVar("M", bound=BaseModel)
PathPart = str | int


def format_path(parts: Sequence[PathPart]) -> str:
    """``("feeds", 3, "interval")`` -> ``"feeds[3].interval"``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(frozen=True)
class Source:
    """A parsed YAML document that remembers where each key and item came from."""

    name: str
    """The file name shown in messages (as given by the user)."""
    root: Any

    problems: tuple[ConfigError, ...] = ()
    """Errors found while parsing that do not stop validation (a merged list item):
    the loaders report them together with their own."""

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Source:
        """Read and parse one YAML file (at most ``bounded.MAX_BYTES``).

        Raises:
            ConfigError: the file is missing, unreadable, too large or not valid YAML,
                or uses an anchor, alias or merge key.
        """
        return cls.parse(read_text(path), str(path))

    @classmethod
    def parse(cls, text: str, name: str) -> Source:
        """Parse YAML text; ``name`` is used in messages.

        Raises:
            ConfigError: syntax error (with the line, a caret and a hint), duplicate key,
                anchor, alias, merge key or too deep nesting, with its line.
        """
        root, merged = parse_yaml(text, name)
        if root is None:
            root = CommentedMap()
        source = cls(name=name, root=root)
        if not merged:
            return source
        lines = text.split("\n")
        return replace(source, problems=tuple(source._merged_error(m, lines) for m in merged))

    def _merged_error(self, item: MergedItem, lines: list[str]) -> ConfigError:
        parts = _path_at(self.root, item.line, item.column)
        what = "item" if parts and isinstance(parts[-1], int) else "value"
        return ConfigError(
            f"{item.value!r} reads as one {what}: this line starts with '- ' but is "
            "indented more than the line above, so YAML joined the two lines",
            file=self.name,
            line=item.dash_line + 1,
            path=format_path(parts) or None,
            excerpt=excerpt(lines, item.dash_line, item.dash_column)
            + "\n  hint: to make two list items, line up this '-' with the one above "
            "(quote the text if the dash belongs to it)",
        )

    def line(self, parts: Sequence[PathPart]) -> int | None:
        """1-based line of the node at ``parts``; for a missing key, its parent's line."""
        line, _ = self._walk(parts)
        return line

    def _walk(self, parts: Sequence[PathPart]) -> tuple[int | None, list[PathPart]]:
        node: Any = self.root
        line: int | None = _node_line(node)
        walked: list[PathPart] = []
        for part in parts:
            if isinstance(node, CommentedMap) and part in node:
                key_line = node.lc.key(part)[0] + 1
                child = node[part]
                child_line = _node_line(child)
                line = child_line if child_line is not None and not _is_scalar(child) else key_line
                if _is_scalar(child):
                    line = node.lc.value(part)[0] + 1
                node = child
                walked.append(part)
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                item_line = node.lc.item(part)[0] + 1
                node = node[part]
                line = item_line
                walked.append(part)
            elif isinstance(part, str) and isinstance(node, CommentedMap | CommentedSeq):
                # A pydantic location part that is not in the document: a union tag
                # ("str", "function-after[...]") or a missing key. Stay where we are.
                continue
        return line, walked

    def key_line(self, parts: Sequence[PathPart]) -> int | None:
        """1-based line of the *key* at ``parts`` (used for unknown keys)."""
        if not parts:
            return _node_line(self.root)
        parent_line, walked = self._walk(parts[:-1])
        node: Any = self.root
        for part in walked:
            node = node[part]
        last = parts[-1]
        if isinstance(node, CommentedMap) and last in node:
            return int(node.lc.key(last)[0]) + 1
        return parent_line

    def error(self, parts: Sequence[PathPart], message: str) -> ConfigError:
        """A ``ConfigError`` located at ``parts``."""
        line, walked = self._walk(parts)
        return ConfigError(message, file=self.name, line=line, path=format_path(walked) or None)

    def plain(self) -> Any:
        """The document as plain dicts, lists and scalars."""
        return _plain(self.root)

    def validate(self, model: type[M], data: Any | None = None) -> M:
        """Validate the document (or ``data``) with a pydantic model.

        Raises:
            ConfigErrors: every problem found, each with file, line and key path.
        """
        try:
            return model.model_validate(self.plain() if data is None else data)
        except ValidationError as exc:
            raise ConfigErrors(self.errors_from(exc, model=model)) from None

    def errors_from(
        self,
        exc: ValidationError,
        prefix: Sequence[PathPart] = (),
        model: type[BaseModel] | None = None,
    ) -> list[ConfigError]:
        errors: list[ConfigError] = []
        seen: set[str] = set()
        for err in exc.errors(include_url=False):
            loc = [*prefix, *err["loc"]]
            kind = err["type"]
            if kind == "extra_forbidden":
                line = self.key_line(loc)
                _, walked = self._walk(loc)
                path = format_path(walked)
                key = loc[-1]
                message = f"unknown key {key!r}"
                allowed = _allowed_keys(model, err["loc"][:-1]) if model else []
                if allowed:
                    message += f" (expected one of: {', '.join(allowed)})"
                ce = ConfigError(message, file=self.name, line=line, path=path or None)
            else:
                message = _message(err)
                line, walked = self._walk(loc)
                path = format_path([p for p in loc if p in walked or isinstance(p, int)])
                if kind == "missing":
                    path = format_path([*walked, loc[-1]]) if loc else path
                    message = "required key is missing"
                ce = ConfigError(
                    message,
                    file=self.name,
                    line=line,
                    path=format_path(walked) if kind != "missing" else path,
                )
            text = str(ce)
            if text not in seen:
                seen.add(text)
                errors.append(ce)
        errors.sort(key=lambda e: e.line or 0)
        return errors


def _allowed_keys(model: type[BaseModel], loc: Sequence[PathPart]) -> list[str]:
    """The keys the model accepts at ``loc`` (to suggest them after an unknown key)."""
    node: Any = model
    for part in loc:
        node = _descend(node, part)
        if node is None:
            return []
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [f.alias or name for name, f in node.model_fields.items()]
    return []


def _descend(node: Any, part: PathPart) -> Any:
    if isinstance(node, type) and issubclass(node, BaseModel):
        field = node.model_fields.get(str(part))
        return _unwrap(field.annotation) if field else None
    origin = get_origin(node)
    args = get_args(node)
    if origin in (list, tuple, Sequence) and isinstance(part, int) and args:
        return _unwrap(args[0])
    if origin in (dict, Mapping) and len(args) == 2:
        return _unwrap(args[1])
    return None


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> X (the first BaseModel or container among the union members)."""
    args = get_args(annotation)
    if get_origin(annotation) in (UnionType, Union) and args:
        for arg in args:
            if arg is not type(None):
                return _unwrap(arg)
    return annotation


def _message(err: Any) -> str:
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    kind = err["type"]
    value = err.get("input")
    if kind in {
        "string_type",
        "int_type",
        "bool_type",
        "list_type",
        "dict_type",
        "float_type",
        "int_parsing",
        "bool_parsing",
        "float_parsing",
        "model_type",
    }:
        expected = {
            "string_type": "a string",
            "int_type": "an integer",
            "int_parsing": "an integer",
            "bool_type": "true or false",
            "bool_parsing": "true or false",
            "list_type": "a list",
            "dict_type": "a mapping",
            "model_type": "a mapping",
            "float_type": "a number",
            "float_parsing": "a number",
        }[kind]
        msg = f"{_show(value)} is not {expected}"
    elif kind == "literal_error":
        ctx = err.get("ctx") or {}
        msg = f"{_show(value)} is not one of {ctx.get('expected', '')}"
    return msg[:1].lower() + msg[1:] if msg[:2] != msg[:2].upper() else msg


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _node_line(node: Any) -> int | None:
    lc = getattr(node, "lc", None)
    if lc is not None and getattr(lc, "line", None) is not None:
        return int(lc.line) + 1
    return None


def _is_scalar(node: Any) -> bool:
    return not isinstance(node, CommentedMap | CommentedSeq)


def _plain(node: Any) -> Any:
    if isinstance(node, CommentedMap):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def _path_at(node: Any, line: int, column: int) -> list[PathPart]:
    """The key path of the scalar that starts at ``line``/``column`` (0-based)."""
    places: list[tuple[Any, Any, Any]]
    if isinstance(node, CommentedMap):
        places = [(k, node.lc.value(k), v) for k, v in node.items()]
    elif isinstance(node, CommentedSeq):
        places = [(i, node.lc.item(i), v) for i, v in enumerate(node)]
    else:
        return []
    for part, (at_line, at_column), child in places:
        if (at_line, at_column) == (line, column):
            return [part if isinstance(part, int) else str(part)]
        if isinstance(child, CommentedMap | CommentedSeq):
            found = _path_at(child, line, column)
            if found:
                return [part if isinstance(part, int) else str(part), *found]
    return []


def merge_errors(groups: Iterable[list[ConfigError]]) -> list[ConfigError]:
    out: list[ConfigError] = []
    for group in groups:
        out.extend(group)
    return out
