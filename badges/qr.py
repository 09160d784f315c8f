"""QR code matrices, fast, and their drawing as one vector path.

Why not just ``qrcode``: it takes ~7.5 ms per code (it builds the symbol eight times to
score the eight masks, and its Reed-Solomon uses polynomial objects), which alone would
cap a 5,000-badge run at ~130 badges/s. Here:

* the function patterns (finders, timing, alignment, format/version info) and the order in
  which data modules are placed are computed once per (version, mask) with ``qrcode``'s
  own code and cached, so the symbol layout is by construction the library's;
* data bits are packed into an int and Reed-Solomon uses GF(256) log/antilog tables;
* the mask is fixed (pattern 0 by default) for badge tokens. Mask selection only exists
  to avoid large uniform areas/finder look-alikes that arise from *structured* data; a
  badge token is ~80% Ed25519 signature, i.e. uniformly random bits, for which every mask
  scores alike. Any mask is valid per ISO/IEC 18004 and decoders read it from the format
  information. Other payloads (not alphanumeric-mode) go through ``qrcode`` with its
  normal best-mask search.

The module matrix is verified bit-for-bit against ``qrcode`` (same version and mask) in
the tests.
"""

from __future__ import annotations

from functools import lru_cache

import qrcode
from qrcode import base as qrbase
from qrcode import util as qrutil
from qrcode.constants import ERROR_CORRECT_M

QUIET_ZONE = 4  # modules, as required by ISO/IEC 18004
DEFAULT_MASK = 0

_EXP = qrbase.EXP_TABLE
_LOG = qrbase.LOG_TABLE


class _Layout(qrcode.QRCode):
    """A ``qrcode.QRCode`` that records where data bits go instead of placing them."""

    positions: list[tuple[int, int]]

    def map_data(self, data, mask_pattern):  # noqa: ANN001 - qrcode's signature
        positions = []
        n = self.modules_count
        inc = -1
        row = n - 1
        for col in range(n - 1, 0, -2):
            if col <= 6:
                col -= 1
            while True:
                for c in (col, col - 1):
                    if self.modules[row][c] is None:
                        positions.append((row, c))
                row += inc
                if row < 0 or n <= row:
                    row -= inc
                    inc = -inc
                    break
        self.positions = positions


@lru_cache(maxsize=64)
def _template(version: int, ecc: int, mask: int) -> tuple[tuple[tuple[bool, ...], ...],
                                                            tuple[tuple[int, int, bool], ...]]:
    q = _Layout(version=version, error_correction=ecc, border=0)
    q.data_cache = []  # skip data encoding: we only want the layout
    q.makeImpl(False, mask)
    fn = q.mask_func if hasattr(q, "mask_func") else qrutil.mask_func(mask)
    base = tuple(tuple(bool(v) for v in row) for row in q.modules)
    placed = tuple((r, c, bool(fn(r, c))) for r, c in q.positions)
    return base, placed


@lru_cache(maxsize=64)
def _generator(ec_count: int) -> tuple[int, ...]:
    poly = [1]
    for i in range(ec_count):
        nxt = [0] * (len(poly) + 1)
        a = _EXP[i]
        for j, p in enumerate(poly):
            nxt[j] ^= p
            if p:
                nxt[j + 1] ^= _EXP[(_LOG[p] + _LOG[a]) % 255]
        poly = nxt
    return tuple(_LOG[c] for c in poly[1:])  # as logs; leading coefficient is 1


def _rs_ec(data: list[int], ec_count: int) -> list[int]:
    gen = _generator(ec_count)
    rem = [0] * ec_count
    for d in data:
        factor = d ^ rem[0]
        rem = rem[1:] + [0]
        if factor:
            lf = _LOG[factor]
            for i, g in enumerate(gen):
                rem[i] ^= _EXP[(g + lf) % 255]
    return rem


_ALNUM = {c: i for i, c in enumerate(qrutil.ALPHA_NUM.decode("ascii"))}


@lru_cache(maxsize=128)
def _capacity_bits(version: int, ecc: int) -> int:
    return sum(b.data_count for b in qrbase.rs_blocks(version, ecc)) * 8


def _alnum_version(length: int, ecc: int) -> int:
    for version in range(1, 41):
        count_bits = qrutil.length_in_bits(qrutil.MODE_ALPHA_NUM, version)
        needed = 4 + count_bits + 11 * (length // 2) + 6 * (length % 2)
        if needed <= _capacity_bits(version, ecc):
            return version
    raise ValueError("payload too long for a QR code")


def _alnum_codewords(text: str, version: int, ecc: int) -> list[int]:
    blocks = qrbase.rs_blocks(version, ecc)
    capacity = _capacity_bits(version, ecc)
    value, nbits = 0b0010, 4
    count_bits = qrutil.length_in_bits(qrutil.MODE_ALPHA_NUM, version)
    value, nbits = (value << count_bits) | len(text), nbits + count_bits
    idx = [_ALNUM[c] for c in text]
    for i in range(0, len(idx) - 1, 2):
        value, nbits = (value << 11) | (idx[i] * 45 + idx[i + 1]), nbits + 11
    if len(idx) % 2:
        value, nbits = (value << 6) | idx[-1], nbits + 6
    term = min(4, capacity - nbits)
    value, nbits = value << term, nbits + term
    pad = -nbits % 8
    value, nbits = value << pad, nbits + pad
    data = list(value.to_bytes(nbits // 8, "big"))
    fill = (0xEC, 0x11)
    data += [fill[i % 2] for i in range(capacity // 8 - len(data))]
    dc_blocks, ec_blocks = [], []
    offset = 0
    for b in blocks:
        dc = data[offset : offset + b.data_count]
        offset += b.data_count
        dc_blocks.append(dc)
        ec_blocks.append(_rs_ec(dc, b.total_count - b.data_count))
    out = []
    for group in (dc_blocks, ec_blocks):
        for i in range(max(len(g) for g in group)):
            out.extend(g[i] for g in group if i < len(g))
    return out


_BYTE_BITS = tuple(f"{i:08b}" for i in range(256))


def _fits_alnum(text: str) -> bool:
    return bool(text) and all(c in _ALNUM for c in text)


@lru_cache(maxsize=4096)
def matrix(payload: str, ecc: int = ERROR_CORRECT_M, mask: int = DEFAULT_MASK
           ) -> tuple[tuple[bool, ...], ...]:
    """The QR module matrix (True = dark) for ``payload``, without quiet zone."""
    if _fits_alnum(payload):
        version = _alnum_version(len(payload), ecc)
        codewords = _alnum_codewords(payload, version, ecc)
        base, placed = _template(version, ecc, mask)
        rows = [list(r) for r in base]
        bits = "".join(_BYTE_BITS[b] for b in codewords)
        bits += "0" * (len(placed) - len(bits))  # remainder bits
        for (r, c, m), bit in zip(placed, bits, strict=True):
            rows[r][c] = (bit == "1") is not m
        return tuple(tuple(r) for r in rows)
    q = qrcode.QRCode(error_correction=ecc, border=0)
    q.add_data(payload)
    q.make(fit=True)
    return tuple(tuple(bool(v) for v in row) for row in q.modules)


def path_ops(modules: tuple[tuple[bool, ...], ...]) -> str:
    """PDF path operators for the dark modules, one unit per module, merged into
    horizontal runs (y grows upwards: row 0 is at the top). Filled with a single ``f``.

    Drawing runs rather than squares keeps the path ~3x smaller, and one path (rather
    than many rectangles) avoids hairline seams between modules in some RIPs.
    """
    n = len(modules)
    parts = []
    for r, row in enumerate(modules):
        y = n - 1 - r
        c = 0
        while c < n:
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                parts.append(f"{start} {y} {c - start} 1 re")
            else:
                c += 1
    parts.append("f")
    return "\n".join(parts)
