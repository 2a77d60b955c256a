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
    return _Gzip()


class _Gzip:
    """gzip as RFC 1952 has it: one member or several in a row, each inflated in turn (one
    decompressobj stops at the end of the first: the rest was dropped and the answer read as cut
    JSON). Bytes after the last member that are not another member are corrupt, except the
    blank padding some servers add."""

    def __init__(self) -> None:
        self._inner = zlib.decompressobj(zlib.MAX_WBITS | 16)
        self._next = b""  # input left after a member's end, for the next member

    def decompress(self, data: bytes, max_length: int) -> bytes:
        out = self._inner.decompress(data, max_length)
        if self._inner.eof:
            rest = self._inner.unused_data
            if rest.strip(b" \t\r\n\0"):
                if not rest.startswith(b"\x1f\x8b"[: len(rest)]):
                    raise zlib.error("bytes after the end of the gzip data")
                self._inner = zlib.decompressobj(zlib.MAX_WBITS | 16)
                self._next = rest
            else:
                self._next = b""
        return out

    @property
    def unconsumed_tail(self) -> bytes:
        if self._next:
            rest, self._next = self._next, b""
            return rest
        return self._inner.unconsumed_tail

    def flush(self) -> bytes:
        rest = self._inner.flush()
        if not self._inner.eof:
            raise zlib.error("the gzip data is cut short")
        return rest


class _Deflate:
    """ "deflate" as servers send it: zlib-wrapped as the RFC says, or raw as some send it,
    told apart by the zlib header once its two bytes have arrived (a first chunk of one byte
    had been taken for zlib's)."""

    def __init__(self) -> None:
        self._inner = None
        self._head = b""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._inner is None:
            self._head += data
            if len(self._head) < 2:
                return b""
            data, self._head = self._head, b""
            zlib_header = data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0
            self._inner = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
        return self._inner.decompress(data, max_length)

    @property
    def unconsumed_tail(self) -> bytes:
        return self._inner.unconsumed_tail if self._inner is not None else b""

    def flush(self) -> bytes:
        if self._inner is None:
            raise zlib.error("the deflate data is cut short")
        rest = self._inner.flush()
        if not self._inner.eof:
            raise zlib.error("the deflate data is cut short")
        return rest


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
        if decoder is not None and sent:  # no bytes at all: an empty body, whatever its encoding
            rest = decoder.flush()
            size += len(rest)
            if size > limit:
                raise BodyTooLarge
            out.append(rest)
    except zlib.error as exc:
        raise BodyUndecodable(f"Content-Encoding {content_encoding!r}: {exc}") from None
    return b"".join(out)
