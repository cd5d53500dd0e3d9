"""Charset detection: the bytes are checked against every declaration."""

from __future__ import annotations

import pytest

from monitor.parse.decode import declared_charsets, decode

TEXT = '<rss version="2.0"><channel><title>Łódź – Zürich</title></channel></rss>'


def test_valid_utf8_is_passed_through_untouched() -> None:
    body = TEXT.encode()
    decoded = decode(body, "application/rss+xml; charset=UTF-8")
    assert decoded.data is body
    assert (decoded.encoding, decoded.problems) == ("utf-8", ())


def test_declared_charsets_from_header_and_declaration() -> None:
    body = b"<?xml version='1.0' encoding='ISO-8859-2'?><rss/>"
    assert declared_charsets(body, 'text/xml; Charset="Windows-1250"') == (
        "windows-1250",
        "iso-8859-2",
    )
    assert declared_charsets(b"<rss/>", None) == (None, None)


def test_legacy_charset_is_transcoded_and_the_declaration_rewritten() -> None:
    body = ('<?xml version="1.0" encoding="iso-8859-2"?>' + TEXT.replace(" – ", " - ")).encode(
        "iso-8859-2"
    )
    decoded = decode(body, None)
    assert decoded.problems == ()
    assert decoded.encoding == "iso8859-2"
    assert decoded.data.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert "Łódź - Zürich".encode() in decoded.data


def test_header_utf8_falls_back_to_a_valid_xml_declaration() -> None:
    body = ('<?xml version="1.0" encoding="iso-8859-2"?>' + TEXT.replace(" – ", " - ")).encode(
        "iso-8859-2"
    )
    decoded = decode(body, "text/xml; charset=utf-8")
    assert decoded.problems == (
        "declared charset utf-8 in the Content-Type header but the body is not valid utf-8; "
        "decoded as iso-8859-2 as declared in the XML declaration",
    )
    assert "Łódź".encode() in decoded.data


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_byte_order_mark_is_detected(codec: str) -> None:
    decoded = decode(TEXT.encode(codec), None)
    assert decoded.problems == ()
    assert "Łódź – Zürich".encode() in decoded.data


def test_a_utf16_label_on_ascii_compatible_bytes_is_wrong() -> None:
    decoded = decode(b'<?xml version="1.0" encoding="utf-16"?>' + TEXT.encode(), None)
    assert decoded.problems == (
        "charset utf-16 declared in the XML declaration but the body is not utf-16",
    )
    assert decoded.data.startswith(b'<?xml version="1.0" encoding="utf-8"?>')


def test_broken_utf16_after_a_byte_order_mark_is_replaced_not_fatal() -> None:
    decoded = decode(b"\xff\xfe" + TEXT.encode("utf-16-le") + b"\x00\xd8", None)
    assert decoded.problems[0].startswith(
        "the body starts with a utf-16-le byte-order mark but is not valid"
    )


@pytest.mark.parametrize("label", ["hex", "zlib", "undefined", "rot13"])
def test_labels_of_codecs_that_are_not_text_encodings(label: str) -> None:
    decoded = decode(TEXT.encode("cp1252", "replace"), f"text/xml; charset={label}")
    assert decoded.data.decode("utf-8")
    assert decoded.problems


def test_white_space_before_the_declaration_is_dropped_and_the_charset_still_read() -> None:
    body = b'\n\n <?xml version="1.0" encoding="iso-8859-2"?>' + "<rss>Łódź</rss>".encode(
        "iso-8859-2"
    )
    decoded = decode(body, None)
    assert decoded.problems == ()
    assert decoded.data == '<?xml version="1.0" encoding="utf-8"?><rss>Łódź</rss>'.encode()
