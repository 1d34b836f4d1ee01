"""gossip.lzw against Go's compress/lzw (LSB, literal width 8), as memberlist util.go's
`compressPayload` and `decompressBuffer` use it.

Known answers come from three places: bit-level reasoning on tiny inputs, a code-stream
model for inputs whose codes are all literals (which pins width growth and the 4095 reset),
and digests of Go 1.19's own writer output (Debian golang-go 2:1.19, `lzw.NewWriter(&buf,
lzw.LSB, 8)`, one Write, Close) for inputs regenerated here from the same LCG.
"""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gossip import lzw
from gossip.errors import DecodeError


def pack_lsb(codes: list[tuple[int, int]]) -> bytes:
    """Plain bit packer: each (code, width) above the previous bits, LSB first."""
    bits = 0
    nbits = 0
    for code, width in codes:
        bits |= code << nbits
        nbits += width
    return bits.to_bytes((nbits + 7) // 8, "little")


def lcg_bytes(seed: int, size: int, alphabet: int) -> bytes:
    """The generator used for the Go digests: x = x*1103515245 + 12345 (u32), byte x>>16."""
    x = seed
    out = bytearray()
    for _ in range(size):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        b = (x >> 16) & 0xFF
        out.append(b if alphabet == 256 else b % alphabet + ord("a"))
    return bytes(out)


def de_bruijn_pairs(size: int) -> bytes:
    """A prefix of the de Bruijn sequence B(256, 2): no two-byte string occurs twice."""
    a = [0, 0, 0]
    seq: list[int] = []

    def db(t: int, p: int) -> None:
        if t > 2:
            if 2 % p == 0:
                seq.extend(a[1 : p + 1])
            return
        a[t] = a[t - p]
        db(t + 1, p)
        for j in range(a[t - p] + 1, 256):
            a[t] = j
            db(t + 1, t)

    db(1, 1)
    return bytes(seq[:size])


# ---- known answers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "codes"),
    [
        # Close() with nothing written: clear, end.
        (b"", [(256, 9), (257, 9)]),
        # clear, 'a' (emitted by Close, which allocates 258), end.
        (b"a", [(256, 9), (97, 9), (257, 9)]),
        # 'a' (258 = "aa"), then 258 ("aa", 259 = "aaa"), then 'a' at Close, end.
        (b"aaaa", [(256, 9), (97, 9), (258, 9), (97, 9), (257, 9)]),
    ],
    ids=["empty", "a", "aaaa"],
)
def test_tiny_inputs_bit_level(data: bytes, codes: list[tuple[int, int]]) -> None:
    assert lzw.compress(data) == pack_lsb(codes)


@pytest.mark.parametrize(
    ("data", "go_hex"),
    [
        (b"", "000302"),
        (b"a", "00c30404"),
        (b"aaaa", "00c3080c1310"),
        (b"TOBEORNOTTOBEORTOBEORNOT", "00a93c1152e48914274fa80824687061c183090302"),
    ],
    ids=["empty", "a", "aaaa", "tobeornot"],
)
def test_matches_go_writer_output(data: bytes, go_hex: str) -> None:
    assert lzw.compress(data).hex() == go_hex
    assert lzw.decompress(bytes.fromhex(go_hex)) == data


@pytest.mark.parametrize(
    ("data", "go_len", "go_sha256"),
    [
        (  # 7 letters: ~5900 codes, crosses a 4095 reset
            lcg_bytes(12345, 20000, 7),
            8549,
            "f178f5bfb46d0a469498a0c3dbfb709b615e8ecfca8a6b36d3fe6a607d4c60b5",
        ),
        (  # one long run: codes grow to thousands of bytes each
            bytes(100000),
            530,
            "7a2b74e419500a3be5ff7cda6b8829a1eb730ccfee1d9e062be7a8ef00a0f6bf",
        ),
        (  # incompressible: several resets, output longer than input
            lcg_bytes(7, 30000, 256),
            41001,
            "1132467c0de5c8e4f0a3ace816588e8756b7a067980af84685d4806b889e95e4",
        ),
    ],
    ids=["letters-20k", "zeros-100k", "random-30k"],
)
def test_matches_go_writer_digest(data: bytes, go_len: int, go_sha256: str) -> None:
    out = lzw.compress(data)
    assert len(out) == go_len
    assert hashlib.sha256(out).hexdigest() == go_sha256
    assert lzw.decompress(out) == data


def _width(m: int) -> int:
    """Width of the m-th code after a clear: grows when code 512, 1024, 2048 is allocated."""
    return 9 if m <= 255 else 10 if m <= 767 else 11 if m <= 1791 else 12


def _literal_only_codes(data: bytes) -> list[tuple[int, int]]:
    """The code stream of an input with no repeated pair: every code is a literal."""

    codes = [(256, 9)]
    m = 0
    for byte in data:
        m += 1
        codes.append((byte, _width(m)))
        if m == 4095 - 257:  # allocating code 4095: clear (still 12 bits wide), restart
            codes.append((256, 12))
            m = 0
    codes.append((257, _width(m + 1)))
    return codes


@pytest.mark.parametrize("size", [255, 256, 767, 768, 1792, 3837, 3838, 3839, 9000])
def test_width_growth_and_reset_follow_the_code_model(size: int) -> None:
    data = de_bruijn_pairs(size)
    assert len(data) == size
    assert lzw.compress(data) == pack_lsb(_literal_only_codes(data))
    assert lzw.decompress(lzw.compress(data)) == data


# ---- round trips ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_roundtrip_arbitrary_bytes(data: bytes) -> None:
    assert lzw.decompress(lzw.compress(data)) == data


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(4096, 24000),
    alphabet=st.sampled_from([2, 5, 26, 256]),
)
def test_roundtrip_long_inputs_cross_resets(seed: int, size: int, alphabet: int) -> None:
    rng = random.Random(seed)
    data = bytes(rng.randrange(alphabet) for _ in range(size))
    assert lzw.decompress(lzw.compress(data)) == data


# ---- the reader's rules and refusals -------------------------------------------------------


def test_bytes_after_the_end_code_are_ignored() -> None:
    assert lzw.decompress(lzw.compress(b"hello") + b"\xff\x00junk") == b"hello"


def test_stream_without_leading_clear_is_accepted() -> None:
    # Go's reader starts in the post-clear state, so a leading clear is optional.
    assert lzw.decompress(pack_lsb([(104, 9), (105, 9), (257, 9)])) == b"hi"


def test_clear_in_the_middle_restarts_the_table() -> None:
    codes = [(256, 9), (97, 9), (98, 9), (256, 9), (98, 9), (97, 9), (258, 9), (257, 9)]
    assert lzw.decompress(pack_lsb(codes)) == b"abbaba"


@pytest.mark.parametrize(
    "codes",
    [
        [(256, 9), (300, 9), (257, 9)],  # above the next free code (257 after a clear)
        [(256, 9), (97, 9), (259, 9), (257, 9)],  # next free is 258
        [(256, 9), (258, 9), (257, 9)],  # KwKwK needs a previous code
    ],
    ids=["far-ahead", "one-ahead", "kwkwk-first"],
)
def test_invalid_code_is_refused(codes: list[tuple[int, int]]) -> None:
    with pytest.raises(DecodeError):
        lzw.decompress(pack_lsb(codes))


def test_missing_end_code_is_refused() -> None:
    with pytest.raises(DecodeError):
        lzw.decompress(pack_lsb([(256, 9), (97, 9), (98, 9)]))
    with pytest.raises(DecodeError):
        lzw.decompress(b"")


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=1, max_size=300))
def test_every_strict_prefix_is_refused(data: bytes) -> None:
    # The end code sits in the last byte, so any cut loses it.
    packed = lzw.compress(data)
    for cut in range(len(packed)):
        with pytest.raises(DecodeError):
            lzw.decompress(packed[:cut])


def test_output_cap() -> None:
    packed = lzw.compress(b"z" * 5000)
    assert lzw.decompress(packed, max_output=5000) == b"z" * 5000
    with pytest.raises(DecodeError, match="exceeds"):
        lzw.decompress(packed, max_output=4999)


def kwkwk_bomb(cycles: int) -> bytes:
    """Codes 0, 258, 259 ... 4094 per table cycle: each expands to one byte more than the
    last, ~7.4 MB of zeros from ~5.5 KB of codes."""
    codes: list[tuple[int, int]] = []
    for _ in range(cycles):
        codes += [(256, 12 if codes else 9), (0, 9)]
        codes += [(256 + m, _width(m)) for m in range(2, 4095 - 257 + 1)]
    codes.append((257, 9))
    return pack_lsb(codes)


def test_default_cap_stops_a_decompression_bomb() -> None:
    one_cycle = sum(range(1, 4095 - 257 + 1))
    assert lzw.decompress(kwkwk_bomb(1)) == bytes(one_cycle)
    bomb = kwkwk_bomb(3)  # 3 * 7.4 MB > 20 MiB
    assert len(bomb) < 20 * 1024
    with pytest.raises(DecodeError, match="exceeds"):
        lzw.decompress(bomb)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_only_raises_decode_error(data: bytes) -> None:
    try:
        out = lzw.decompress(data)
    except DecodeError:
        return
    assert isinstance(out, bytes)
