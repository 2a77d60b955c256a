"""An answer's body read within a bound on its decoded size, decoded here rather than by httpx.

httpx inflates each network chunk through every Content-Encoding in one call, with no limit on
what it makes: a 2 KB body sent as "gzip, gzip" became a gigabyte in memory before any size
could be checked. Here the raw bytes are inflated a slice at a time (zlib's max_length), so the
memory an answer takes stays within its bound however it was compressed; only one gzip or
deflate layer is read (what IRIS and any HTTP server send; the client asks for no other).
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

ACCEPT_ENCODING = "gzip, deflate"  # what the client asks for: what read_body decodes
SLICE = 1 << 20  # bytes inflated at a time: the most an answer may pass its bound by


class BodyTooLarge(Exception):
    """The body (as sent, or as decoded) is larger than the bound."""


class BodyUndecodable(Exception):
    """A Content-Encoding not read here, or a body its encoding cannot decode."""


def _decoder(content_encoding: str):
    """The decompressor for the answer's Content-Encoding; None for identity."""
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return None
    if len(codings) > 1 or codings[0] not in ("gzip", "x-gzip", "deflate"):
        raise BodyUndecodable(
            f"Content-Encoding {content_encoding!r} is not one this client reads ({ACCEPT_ENCODING})"
        )
    if codings[0] == "deflate":
        return _Deflate()
    return zlib.decompressobj(zlib.MAX_WBITS | 16)


class _Deflate:
    """ "deflate" as servers send it: zlib-wrapped as the RFC says, or raw as some send it."""

    def __init__(self) -> None:
        self._inner = zlib.decompressobj()
        self._first = True

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._first:
            self._first = False
            try:
                return self._inner.decompress(data, max_length)
            except zlib.error:
                self._inner = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._inner.decompress(data, max_length)

    @property
    def unconsumed_tail(self) -> bytes:
        return self._inner.unconsumed_tail

    def flush(self) -> bytes:
        return self._inner.flush()


async def read_body(raw: AsyncIterator[bytes], content_encoding: str, limit: int) -> bytes:
    """The body of `raw` (the bytes as sent) decoded, at most `limit` bytes as sent and as
    decoded: BodyTooLarge past it, BodyUndecodable for an encoding not read or a corrupt body."""
    decoder = _decoder(content_encoding)
    out: list[bytes] = []
    sent = size = 0
    try:
        async for chunk in raw:
            sent += len(chunk)
            if sent > limit:
                raise BodyTooLarge
            if decoder is None:
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge
                out.append(chunk)
                continue
            data = chunk
            while data:
                piece = decoder.decompress(data, SLICE)
                size += len(piece)
                if size > limit:
                    raise BodyTooLarge
                out.append(piece)
                data = decoder.unconsumed_tail
        if decoder is not None:
            rest = decoder.flush()
            size += len(rest)
            if size > limit:
                raise BodyTooLarge
            out.append(rest)
    except zlib.error as exc:
        raise BodyUndecodable(f"Content-Encoding {content_encoding!r}: {exc}") from None
    return b"".join(out)
