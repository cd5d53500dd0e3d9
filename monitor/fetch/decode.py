"""Content-Encoding decoding that never inflates more than a size cap.

httpx decodes each network chunk completely, so one 64 KiB chunk of a gzip bomb becomes
about 64 MiB in memory before any caller can count it.  :class:`BoundedDecoder` asks zlib
for at most ``limit + 1`` bytes (``decompress(data, max_length)``), so the moment a body
would exceed the cap is detected while only the cap itself has been allocated.
"""

from __future__ import annotations

import zlib

ACCEPT_ENCODING = "gzip, deflate"
"""What the fetcher advertises: exactly what :class:`BoundedDecoder` can bound."""


class TooLargeError(Exception):
    """The decoded body exceeds the cap (internal to the fetch stage)."""


class DecodingError(Exception):
    """The body is not valid for its Content-Encoding (internal to the fetch stage)."""


class BoundedDecoder:
    """Decode a body for one ``Content-Encoding`` and count the decoded bytes.

    Raises:
        TooLargeError: from :meth:`feed` once more than ``limit`` bytes were decoded.
        DecodingError: from :meth:`feed`/:meth:`flush` on corrupt data, or from the
            constructor for an encoding that was not advertised.
    """

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        encoding = (content_encoding or "").strip().lower()
        if encoding in ("", "identity"):
            self._kind = ""
        elif encoding in ("gzip", "x-gzip"):
            self._kind = "gzip"
        elif encoding == "deflate":
            self._kind = "deflate"
        else:
            raise DecodingError(f"unsupported Content-Encoding {content_encoding!r}")
        self.encoding = self._kind or "identity"
        self.limit = limit
        self.size = 0
        """Decoded bytes so far."""
        self.raw_size = 0
        """Bytes received from the network so far (after Transfer-Encoding)."""
        self._first = True
        self._zlib: zlib._Decompress | None = None
        if self._kind == "gzip":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)

    def feed(self, data: bytes) -> bytes:
        self.raw_size += len(data)
        if not self._kind:
            return self._count(data)
        if self._zlib is None:
            self._zlib = self._deflate_for(data)
        out: list[bytes] = []
        while data:
            try:
                chunk = self._zlib.decompress(data, self.limit - self.size + 1)
            except zlib.error as exc:
                raise DecodingError(f"invalid {self._kind} data: {exc}") from exc
            out.append(self._count(chunk))
            if self._zlib.eof and self._zlib.unused_data.startswith(b"\x1f\x8b"):
                # RFC 1952 §2.2: a gzip file may hold several members back to back
                # (other trailing bytes are ignored, as browsers and httpx do).
                data = self._zlib.unused_data
                self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
            else:
                data = b""
        return b"".join(out)

    def flush(self) -> bytes:
        # A stream cut before its trailer still yields what was decoded, as browsers do;
        # the parser then reports the truncated document precisely.
        if self._zlib is None:
            return b""
        return self._count(self._zlib.flush())

    def _count(self, chunk: bytes) -> bytes:
        self.size += len(chunk)
        if self.size > self.limit:
            raise TooLargeError
        return chunk

    @staticmethod
    def _deflate_for(data: bytes) -> zlib._Decompress:
        # RFC 9110 §8.4.1.2 says "deflate" is zlib-wrapped, but many servers send raw
        # deflate; a zlib stream starts with a CMF byte whose low nibble is 8.
        wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
