"""Telegram's HTML parse mode, as the Bot API applies it to ``parse_mode=HTML``.

A port of the rules of tdlib's ``parse_html`` (``td/telegram/MessageEntity.cpp``, whose
tests fix the error texts): only Telegram's tags are accepted (b/strong, i/em, u/ins,
s/strike/del, a, code, pre, tg-spoiler, span class="tg-spoiler", blockquote, tg-emoji);
the named entities ``&lt; &gt; &amp; &quot;`` and numeric ones are decoded; offsets in
error messages are UTF-8 byte offsets; entity offsets and lengths are UTF-16 code units.

Telegram itself leaves any other ``&name;`` and a bare ``&`` as literal text.
``strict_entities=True`` rejects them instead, so that a test can prove a renderer
escaped everything (Telegram would have shown "&nbsp;" to the reader).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "code",
        "pre",
        "tg-spoiler",
        "span",
        "blockquote",
        "tg-emoji",
    }
)
_KIND = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_SPACE = frozenset(b" \t\r\n\x00\x0b")
_NAMED = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_LINK = re.compile(r"^(?:https?|tg|ton|tonsite)://\S+$", re.IGNORECASE)
_BARE_DOMAIN = re.compile(r"^[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}(?:[/?#]\S*)?$", re.IGNORECASE)


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; ``str(err)`` is Telegram's own wording."""


@dataclass(frozen=True)
class Entity:
    """A MessageEntity as the Bot API returns it (offsets in UTF-16 code units)."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    custom_emoji_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "offset": self.offset, "length": self.length}
        for key in ("url", "language", "custom_emoji_id"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class Parsed:
    """The text a reader sees, and the formatting applied to it."""

    text: str
    entities: tuple[Entity, ...]


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP is 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def entity_texts(text: str, entities: tuple[Entity, ...], kind: str) -> list[str]:
    """The passages of ``text`` covered by entities of type ``kind`` (UTF-16 offsets)."""
    raw = text.encode("utf-16-le", "surrogatepass")
    return [
        raw[2 * e.offset : 2 * (e.offset + e.length)].decode("utf-16-le", "surrogatepass")
        for e in entities
        if e.type == kind
    ]


def checked_link(url: str) -> str | None:
    """The URL tdlib would keep for a text link, or None (the link is silently dropped)."""
    url = url.strip()
    if _LINK.match(url):
        return url
    if _BARE_DOMAIN.match(url):
        return "http://" + url
    return None


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the output where the entity starts
    out_start: int  # index into the output pieces, to recover a link's text
    byte_pos: int


class _Parser:
    def __init__(self, source: str, strict_entities: bool) -> None:
        self.b = source.encode("utf-8", "surrogatepass")
        self.strict = strict_entities
        self.out: list[str] = []
        self.u16 = 0
        self.entities: list[Entity] = []
        self.stack: list[_Open] = []

    def at(self, i: int) -> int:
        return self.b[i] if i < len(self.b) else 0

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.u16 += utf16_len(text)

    def entity(self, pos: int) -> tuple[str, int] | None:
        """Decode an HTML entity at ``pos`` (an ``&``): (character, next position) or None."""
        end = pos + 1
        if self.at(end) == ord("#"):
            end += 1
            hexa = self.at(end) == ord("x")
            end += hexa
            digits = b"0123456789abcdefABCDEF" if hexa else b"0123456789"
            start = end
            while self.at(end) and self.at(end) in digits:
                end += 1
            value = int(self.b[start:end], 16 if hexa else 10) if end > start else 0
            if value == 0 or value >= 0x10FFFF or end - pos >= 10:
                return None
            if 0xD800 <= value <= 0xDFFF:
                raise EntityParseError(
                    "Text contains invalid Unicode characters after decoding HTML entities, "
                    "check for unmatched surrogate code units"
                )
            char = chr(value)
        else:
            while chr(self.at(end)).isascii() and chr(self.at(end)).isalpha():
                end += 1
            name = self.b[pos + 1 : end]
            if name not in _NAMED:
                if self.strict and name:
                    raise EntityParseError(
                        f'Unsupported HTML entity "&{name.decode()};" at byte offset {pos}'
                    )
                return None
            char = _NAMED[name]
        if self.at(end) == ord(";"):
            end += 1
        return char, end

    def run(self) -> Parsed:
        b = self.b
        i = 0
        text_start = 0
        while i < len(b):
            c = b[i]
            if c == ord("&"):
                decoded = self.entity(i)
                if decoded is None:
                    if self.strict:
                        raise EntityParseError(f'Unescaped "&" at byte offset {i}')
                    i += 1
                    continue
                self.emit(b[text_start:i].decode("utf-8", "surrogatepass"))
                self.emit(decoded[0])
                i = text_start = decoded[1]
                continue
            if c != ord("<"):
                i += 1
                continue
            self.emit(b[text_start:i].decode("utf-8", "surrogatepass"))
            i = self.end_tag(i) if self.at(i + 1) == ord("/") else self.start_tag(i)
            text_start = i
        self.emit(b[text_start:].decode("utf-8", "surrogatepass"))
        if self.stack:
            raise EntityParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"'
            )
        entities = sorted(self.entities, key=lambda e: (e.offset, -e.length))
        return Parsed("".join(self.out), tuple(entities))

    def start_tag(self, begin: int) -> int:
        i = begin + 1
        while self.at(i) and self.at(i) not in _SPACE and self.at(i) != ord(">"):
            i += 1
        if not self.at(i):
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        tag = self.b[begin + 1 : i].decode("utf-8", "replace").lower()
        if tag not in TAGS:
            raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
        argument = ""
        while self.at(i) != ord(">"):
            while self.at(i) and self.at(i) in _SPACE:
                i += 1
            if self.at(i) == ord(">"):
                break
            name_start = i
            while self.at(i) and self.at(i) not in _SPACE and self.at(i) not in b"=>":
                i += 1
            name = self.b[name_start:i].decode("utf-8", "replace").lower()
            if not name:
                raise EntityParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
                )
            while self.at(i) and self.at(i) in _SPACE:
                i += 1
            if self.at(i) != ord("="):
                if tag == "blockquote" and name == "expandable":
                    argument = "expandable"
                    continue
                raise EntityParseError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {begin}'
                )
            i += 1
            while self.at(i) and self.at(i) in _SPACE:
                i += 1
            if not self.at(i):
                raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            value, i = self.attribute_value(i)
            if not self.at(i):
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            if (tag, name) in (("a", "href"), ("tg-emoji", "emoji-id")):
                argument = value
            elif tag == "code" and name == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif tag == "span" and name == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
        if tag == "span" and argument != "spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
            )
        self.stack.append(_Open(tag, argument, self.u16, len(self.out), begin))
        return i + 1

    def attribute_value(self, i: int) -> tuple[str, int]:
        quote = self.at(i)
        if quote not in (ord("'"), ord('"')):
            start = i
            while self.at(i) and (chr(self.at(i)).isalnum() or self.at(i) in b".-"):
                i += 1
            if self.at(i) and self.at(i) not in _SPACE and self.at(i) != ord(">"):
                raise EntityParseError(f"Unexpected end of name token at byte offset {start}")
            return self.b[start:i].decode().lower(), i
        i += 1
        parts: list[str] = []
        start = i
        while self.at(i) and self.at(i) != quote:
            if self.at(i) == ord("&"):
                decoded = self.entity(i)
                if decoded is not None:
                    parts.append(self.b[start:i].decode("utf-8", "surrogatepass"))
                    parts.append(decoded[0])
                    i = start = decoded[1]
                    continue
            i += 1
        parts.append(self.b[start:i].decode("utf-8", "surrogatepass"))
        if self.at(i) == quote:
            i += 1
        return "".join(parts), i

    def end_tag(self, begin: int) -> int:
        if not self.stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        i = begin + 2
        while self.at(i) and self.at(i) not in _SPACE and self.at(i) != ord(">"):
            i += 1
        name = self.b[begin + 2 : i].decode("utf-8", "replace").lower()
        while self.at(i) and self.at(i) in _SPACE:
            i += 1
        if self.at(i) != ord(">"):
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        top = self.stack.pop()
        if name and name != top.tag:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{top.tag}>", '
                f'found "</{name}>"'
            )
        self.close(top)
        return i + 1

    def close(self, top: _Open) -> None:
        length = self.u16 - top.offset
        if length <= 0:
            return
        kind = _KIND.get(top.tag)
        if kind is not None:
            self.entities.append(Entity(kind, top.offset, length))
        elif top.tag == "tg-emoji":
            if not top.argument.isdigit() or int(top.argument) == 0:
                raise EntityParseError("Invalid custom emoji identifier specified")
            self.entities.append(
                Entity("custom_emoji", top.offset, length, custom_emoji_id=top.argument)
            )
        elif top.tag == "blockquote":
            kind = "expandable_blockquote" if top.argument else "blockquote"
            self.entities.append(Entity(kind, top.offset, length))
        elif top.tag == "a":
            url = checked_link(top.argument or "".join(self.out[top.out_start :]))
            if url is not None:
                self.entities.append(Entity("text_link", top.offset, length, url=url))
        elif top.tag in ("pre", "code"):
            self.pre_or_code(top, length)

    def pre_or_code(self, top: _Open, length: int) -> None:
        # <pre><code class="language-x">...</code></pre> is one pre entity with a language.
        last = self.entities[-1] if self.entities else None
        same = last is not None and (last.offset, last.length) == (top.offset, length)
        if top.tag == "pre" and same and last is not None and last.type == "code" and last.language:
            self.entities[-1] = Entity("pre", top.offset, length, language=last.language)
        elif (
            top.tag == "code" and same and last is not None and last.type == "pre" and top.argument
        ):
            self.entities[-1] = Entity("pre", top.offset, length, language=top.argument or None)
        elif top.tag == "pre":
            self.entities.append(Entity("pre", top.offset, length))
        else:
            self.entities.append(Entity("code", top.offset, length, language=top.argument or None))


def parse_html(source: str, *, strict_entities: bool = False) -> Parsed:
    """Parse ``source`` as Telegram does for ``parse_mode=HTML``.

    Raises:
        EntityParseError: with Telegram's description (without the
            ``Bad Request: can't parse entities: `` prefix the Bot API adds).
    """
    parsed = _Parser(source, strict_entities).run()
    # A code entity reports its language only inside <pre>; a bare <code> has none.
    entities = tuple(
        Entity(e.type, e.offset, e.length, e.url, None, e.custom_emoji_id)
        if e.type == "code"
        else e
        for e in parsed.entities
    )
    return Parsed(parsed.text, entities)


def strip_message(parsed: Parsed) -> Parsed:
    """Trim leading and trailing white space as the Bot API does, moving the entities."""
    text = parsed.text
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    stripped = text.strip()
    end = utf16_len(stripped)
    entities: list[Entity] = []
    for e in parsed.entities:
        start = max(e.offset - lead, 0)
        stop = min(e.offset + e.length - lead, end)
        if stop > start:
            entities.append(
                Entity(e.type, start, stop - start, e.url, e.language, e.custom_emoji_id)
            )
    return Parsed(stripped, tuple(entities))
