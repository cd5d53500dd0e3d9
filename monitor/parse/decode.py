"""Bytes to UTF-8: pick the charset a feed really uses, and say so when it lied.

Both parse engines receive the same normalised UTF-8 bytes (declaration rewritten), so
charset handling is decided once, here, and cannot differ between them.

Order of evidence: a byte-order mark; then the charset of the Content-Type header,
which RFC 7303 section 3.2 puts above the XML declaration; then the XML declaration;
then UTF-8, the XML default.  A declaration is checked against the bytes: UTF-8 that
does not decode falls back to the other declaration or to windows-1252, and a legacy
charset declared over a body that is valid UTF-8 is overruled (text in an 8-bit
charset is practically never valid UTF-8 by accident).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_XML_DECL = re.compile(rb"^<\?xml[^>]{0,200}?\?>")
_DECL_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE)
# C0 controls that XML 1.0 forbids anywhere; some CMSs pass them through from pasted text.
_FORBIDDEN = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_FORBIDDEN_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_FORBIDDEN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# WHATWG Encoding Standard: these labels mean windows-1252 on the web, and feeds
# labelled latin-1 routinely carry curly quotes from the 0x80-0x9f range.
_AS_WINDOWS_1252 = frozenset({"ascii", "latin_1", "cp1252", "iso8859_1"})
_UNICODE = frozenset(
    {"utf_8", "utf_16", "utf_16_le", "utf_16_be", "utf_32", "utf_32_le", "utf_32_be"}
)
_EBCDIC = b"\x4c\x6f\xa7\x94"
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _latin1_passthrough(err: UnicodeError) -> tuple[str, int]:
    # Python's cp1252 leaves 0x81, 0x8d, 0x8f, 0x90, 0x9d undefined; WHATWG maps them
    # to the C1 code points, so a windows-1252 decode can never fail.
    if not isinstance(err, UnicodeDecodeError):
        raise err
    return err.object[err.start : err.end].decode("latin-1"), err.end


codecs.register_error("monitor-latin1", _latin1_passthrough)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A body as UTF-8 bytes, the charset it was read in and what was wrong."""

    data: bytes
    encoding: str
    problems: tuple[str, ...] = ()


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        return codecs.lookup(label).name.replace("-", "_")
    except LookupError:
        return None


def _display(codec: str) -> str:
    return {"cp1252": "windows-1252", "iso8859_1": "iso-8859-1", "ascii": "us-ascii"}.get(
        codec, codec.replace("_", "-")
    )


def _decode_as(body: bytes, codec: str) -> str | None:
    if codec in _AS_WINDOWS_1252:
        return body.decode("cp1252", "monitor-latin1")
    try:
        return body.decode(codec)
    except (UnicodeError, LookupError, ValueError, TypeError):
        # Labels such as "hex", "zlib" or "undefined" name codecs that are not text
        # encodings, or that never decode; either way the declaration is unusable.
        return None


def declared_charsets(body: bytes, content_type: str | None) -> tuple[str | None, str | None]:
    """Return the charset labels of the Content-Type header and the XML declaration."""
    http = None
    if content_type:
        match = _CHARSET_PARAM.search(content_type)
        http = match.group(1).lower() if match else None
    xml = None
    decl = _XML_DECL.match(body)
    if decl:
        enc = _DECL_ENCODING.search(decl.group(0))
        xml = enc.group(1).decode("ascii").lower() if enc else None
    return http, xml


def decode(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode a feed body and re-encode it as UTF-8 with a matching XML declaration.

    Never fails: the last resort, windows-1252, maps every byte to a character.
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return _from_bom(body[len(bom) :], name)
    if body[:4] == _EBCDIC:
        return _from_ebcdic(body)
    if body[:2] in (b"<\x00", b"\x00<"):
        # UTF-16 without a byte-order mark: XML 1.0 appendix F.1 autodetection.
        name = "utf-16-le" if body[0] == 0x3C else "utf-16-be"
        return _from_bom(body, name)
    # White space before the XML declaration (a stray newline from a PHP include)
    # makes strict parsers refuse the whole document; it carries nothing.
    if body[:1].isspace():
        body = body.lstrip()
    http_label, xml_label = declared_charsets(body, content_type)
    text, codec, problems = _pick(body, http_label, xml_label)
    return _finish(body, text, codec, problems)


def _from_ebcdic(body: bytes) -> Decoded:
    # "<?xm" in EBCDIC (XML 1.0 appendix F.1); the declaration, readable in any EBCDIC
    # code page, names the one in use (cp037, cp500, cp875, ...).
    head = body[:200].decode("cp037").encode("ascii", "replace")
    match = _DECL_ENCODING.search(head)
    name = match.group(1).decode("ascii") if match else "cp037"
    try:
        codecs.lookup(name)
    except LookupError:
        name = "cp037"
    return _from_bom(body, name)


def _from_bom(rest: bytes, name: str) -> Decoded:
    try:
        text = rest.decode(name)
        problems: tuple[str, ...] = ()
    except UnicodeDecodeError as exc:
        text = rest.decode(name, "replace")
        problems = (
            f"the body starts with a {name} byte-order mark but is not valid {name} "
            f"(at byte {exc.start}); replaced the undecodable bytes",
        )
    return _finish(b"", text, name.replace("-", "_"), problems)


def _pick(
    body: bytes, http_label: str | None, xml_label: str | None
) -> tuple[str | None, str, list[str]]:
    """Return (text or None when ``body`` is usable as UTF-8, codec, problems)."""
    problems: list[str] = []
    candidates: list[tuple[str, str, str]] = []  # (codec, label, where)
    for label, where in (
        (http_label, "in the Content-Type header"),
        (xml_label, "in the XML declaration"),
    ):
        if label is None:
            continue
        codec = _codec(label)
        if codec is None:
            problems.append(f"unknown charset {label!r} declared {where}; ignored")
        elif codec.startswith(("utf_16", "utf_32")):
            # A UTF-16 label on a body that reached here (no BOM, no NUL pattern) is
            # wrong: the bytes are ASCII-compatible.  feedparser ignores it the same way.
            problems.append(f"charset {label} declared {where} but the body is not {label}")
        else:
            candidates.append((codec, label, where))
    if not candidates:
        if body.isascii() or _is_utf8(body):
            return None, "utf_8", problems
        problems.append(
            "no charset declared and the body is not valid utf-8; decoded as windows-1252"
        )
        return body.decode("cp1252", "monitor-latin1"), "cp1252", problems
    codec, label, where = candidates[0]
    if codec == "utf_8":
        if body.isascii() or _is_utf8(body):
            return None, "utf_8", problems
        for other, other_label, other_where in candidates[1:]:
            if other != "utf_8" and (text := _decode_as(body, other)) is not None:
                problems.append(
                    f"declared charset {label} {where} but the body is not valid utf-8; "
                    f"decoded as {other_label} as declared {other_where}"
                )
                return text, other, problems
        problems.append(
            f"declared charset {label} but the body is not valid utf-8; decoded as windows-1252"
        )
        return body.decode("cp1252", "monitor-latin1"), "cp1252", problems
    if not body.isascii() and _is_utf8(body):
        problems.append(f"declared charset {label} but the body is utf-8; decoded as utf-8")
        return None, "utf_8", problems
    text = _decode_as(body, codec)
    if text is not None:
        return text, codec, problems
    problems.append(
        f"declared charset {label} but the body is not valid {label}; decoded as windows-1252"
    )
    return body.decode("cp1252", "monitor-latin1"), "cp1252", problems


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _finish(
    body: bytes, text: str | None, codec: str, problems: list[str] | tuple[str, ...]
) -> Decoded:
    found = list(problems)
    if text is None:
        # The common case: already UTF-8, reuse the bytes unless controls must go.
        data = body
        # bytes.translate scans at memory speed; the regex only runs when it must.
        if len(data.translate(None, _FORBIDDEN_BYTES)) != len(data):
            data, count = _FORBIDDEN.subn(b"", data)
            found.append(_controls_message(count))
        decl = _XML_DECL.match(data)
        if (
            decl
            and (enc := _DECL_ENCODING.search(decl.group(0)))
            and _codec(enc.group(1).decode()) != "utf_8"
        ):
            data = _rewrite_declaration(data)
        return Decoded(data, "utf-8", tuple(found))
    text = text.lstrip()
    if _FORBIDDEN_TEXT.search(text):
        text, count = _FORBIDDEN_TEXT.subn("", text)
        found.append(_controls_message(count))
    data = _rewrite_declaration(text.encode("utf-8", "replace"))
    return Decoded(data, _display(codec), tuple(found))


def _controls_message(count: int) -> str:
    noun = "character" if count == 1 else "characters"
    return f"removed {count} control {noun} that XML forbids"


def _rewrite_declaration(data: bytes) -> bytes:
    decl = _XML_DECL.match(data)
    if decl is None:
        return data
    fixed = _DECL_ENCODING.sub(b'encoding="utf-8"', decl.group(0), count=1)
    return fixed + data[decl.end() :]
