"""LZW exactly as Go's `compress/lzw` does it (order LSB, literal width 8; memberlist util.go:
`compressPayload`, `decompressBuffer`).

memberlist compresses packets and streams with Go's LZW writer and a peer only accepts what
Go's reader accepts, so this module copies both, code for code:

* Codes 0..255 are literals, 256 clears the table, 257 ends the stream; the first free code is
  258. Codes start 9 bits wide and grow to 12; bits are packed least-significant first.
* The writer (go1.19 `writer.go`) sends a clear code first, then greedy longest matches. After
  each emitted code it allocates the next code number (`incHi`): reaching `1 << width` widens
  the following codes, reaching 4095 emits a clear (at the current width) and starts over
  without storing the pending entry. `Close` emits the pending code (allocating once more,
  which may widen or reset), then 257, then the last partial byte.
* The reader (`reader.go`) mirrors that numbering; a code equal to the next free number is the
  KwKwK case; once the table is full (12 bits) it stops adding entries; data that ends before
  code 257 is an error, and bytes after 257 are ignored.

The encoder keeps its string table as a dict from `prefix_code << 8 | byte` to code, the same
key Go hashes. Both directions are pure Python, so they are written as one flat loop each.
"""

from __future__ import annotations

from gossip.errors import DecodeError

CLEAR_CODE = 256
END_CODE = 257
MAX_CODE = 4095  # 12-bit codes; the writer resets when it would allocate this one
MAX_WIDTH = 12
FIRST_WIDTH = 9
MAX_OUTPUT_BYTES = 20 * 1024 * 1024
"""Default cap on decompressed size: the largest stream memberlist accepts (net.go
`maxPushStateBytes`). LZW can expand about 1300 times, so without a cap a 64 KiB datagram could
ask for ~80 MB."""

# Literals expand to themselves; 256 and 257 never expand but keep `table[code]` aligned.
_INITIAL_TABLE = (*(bytes((i,)) for i in range(256)), b"", b"")


def compress(data: bytes) -> bytes:
    """Compress like `lzw.NewWriter(w, lzw.LSB, 8)`, one `Write(data)`, then `Close()`."""
    out = bytearray()
    # Bit accumulator: codes are OR-ed in above `nbits` pending bits; whole 32-bit words are
    # moved to `out` as they fill, which gives the same bytes as Go's byte-at-a-time loop.
    bits = CLEAR_CODE
    nbits = FIRST_WIDTH
    width = FIRST_WIDTH
    hi = END_CODE  # the last allocated code number
    overflow = 1 << FIRST_WIDTH
    table: dict[int, int] = {}
    if data:
        code = data[0]
        for byte in data[1:]:
            key = (code << 8) | byte
            match = table.get(key)
            if match is not None:
                code = match
                continue
            bits |= code << nbits
            nbits += width
            if nbits >= 32:
                out += (bits & 0xFFFFFFFF).to_bytes(4, "little")
                bits >>= 32
                nbits -= 32
            code = byte
            hi += 1
            if hi == overflow:
                width += 1
                overflow <<= 1
            if hi == MAX_CODE:
                bits |= CLEAR_CODE << nbits
                nbits += width
                width, hi, overflow = FIRST_WIDTH, END_CODE, 1 << FIRST_WIDTH
                table.clear()
                continue
            table[key] = hi
        # Close(): the pending code, one more allocation (which may widen or reset), then EOF.
        bits |= code << nbits
        nbits += width
        hi += 1
        if hi == overflow:
            width += 1
        if hi == MAX_CODE:
            bits |= CLEAR_CODE << nbits
            nbits += width
            width = FIRST_WIDTH
    bits |= END_CODE << nbits
    nbits += width
    out += bits.to_bytes((nbits + 7) // 8, "little")
    return bytes(out)


def decompress(data: bytes, *, max_output: int = MAX_OUTPUT_BYTES) -> bytes:
    """Decompress like Go's `lzw.NewReader(r, lzw.LSB, 8)` read to the end.

    Raises:
        DecodeError: a code above the next free one, no end code before the data runs out,
            or more than `max_output` bytes of output.
    """
    out = bytearray()
    table = list(_INITIAL_TABLE)
    define = table.append
    width = FIRST_WIDTH
    mask = (1 << width) - 1
    hi = END_CODE  # the next entry defined gets this number (entries below it exist)
    overflow = 1 << FIRST_WIDTH
    last: bytes | None = None  # expansion of the previous code, None right after a clear
    bits = 0
    nbits = 0
    pos = 0
    while True:
        if nbits < width:  # refill 32 bits at a time; codes are at most 12 bits wide
            chunk = data[pos : pos + 4]
            pos += 4
            bits |= int.from_bytes(chunk, "little") << nbits
            nbits += 8 * len(chunk)
            if nbits < width:
                raise DecodeError("lzw: data ends before the end code")
        code = bits & mask
        bits >>= width
        nbits -= width
        if code < CLEAR_CODE:
            entry = table[code]
            if last is not None:
                define(last + entry)
        elif code == CLEAR_CODE:
            del table[END_CODE + 1 :]
            width, hi, overflow, last = FIRST_WIDTH, END_CODE, 1 << FIRST_WIDTH, None
            mask = (1 << width) - 1
            continue
        elif code == END_CODE:
            return bytes(out)
        elif code <= hi:
            if code == hi and last is not None:  # KwKwK: the code being defined right now
                entry = last + last[:1]
                define(entry)
            else:
                entry = table[code]
                if last is not None:
                    define(last + entry[:1])
        else:
            raise DecodeError(f"lzw: invalid code {code} (next free is {hi})")
        out += entry
        if len(out) > max_output:
            raise DecodeError(f"lzw: output exceeds {max_output} bytes")
        last = entry
        hi += 1
        if hi >= overflow:
            if width == MAX_WIDTH:  # table full: keep decoding, stop adding entries
                last = None
                hi -= 1
            else:
                width += 1
                mask = (1 << width) - 1
                overflow <<= 1
