"""QR code matrices, fast, and their drawing as one vector path.

Why not just ``qrcode``: it takes ~7.5 ms per code (it builds the symbol eight times to
score the eight masks, and its Reed-Solomon uses polynomial objects), which alone would
cap a 5,000-badge run at ~130 badges/s; the matrix takes ~0.15 ms here, and the path
~0.35 ms more. Here:

* the function patterns (finders, timing, alignment, format/version info) and the order in
  which data modules are placed are computed once per (version, mask) with ``qrcode``'s
  own code and cached, so the symbol layout is by construction the library's;
* Reed-Solomon is a shift/XOR loop on Python ints with a per-(EC length) table, and the
  grid is built by one precomputed gather (``itemgetter``) instead of a Python loop;
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

import re
from functools import lru_cache
from operator import itemgetter

import qrcode
from qrcode import base as qrbase
from qrcode import util as qrutil
from qrcode.constants import ERROR_CORRECT_M

QUIET_ZONE = 4  # modules, as required by ISO/IEC 18004
DEFAULT_MASK = 0

_DARK_RUN = re.compile(b"\x01+")
_BIT_BYTES = bytes.maketrans(b"01", b"\x00\x01")
_EXP = qrbase.EXP_TABLE
_LOG = qrbase.LOG_TABLE


class _Layout(qrcode.QRCode):
    """A ``qrcode.QRCode`` that records where data bits go instead of placing them."""

    positions: list[tuple[int, int]]

    def map_data(self, data: list[int], mask_pattern: int) -> None:
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
def _template(version: int, ecc: int, mask: int
              ) -> tuple[int, itemgetter, bytes, int, int]:
    """Per (version, ecc, mask): the symbol size, a gather that builds the row-major grid
    (stride n + 1: a zero after each row so dark runs never wrap) from
    ``data bits + function-pattern cells``, those function cells, and the mask bits over
    the data positions as one int (first placed module = most significant bit), and the
    number of data positions."""
    q = _Layout(version=version, error_correction=ecc, border=0)
    q.data_cache = []  # skip data encoding: we only want the layout
    q.makeImpl(False, mask)
    fn = qrutil.mask_func(mask)
    n = q.modules_count
    stride = n + 1
    fixed = bytearray(stride * n)
    for r, row in enumerate(q.modules):
        for c, v in enumerate(row):
            fixed[r * stride + c] = 1 if v else 0
    total = len(q.positions)
    source_index = [total + i for i in range(stride * n)]  # default: the fixed cell
    mask_bits = 0
    for k, (r, c) in enumerate(q.positions):
        source_index[r * stride + c] = k
        mask_bits = (mask_bits << 1) | (1 if fn(r, c) else 0)
    return n, itemgetter(*source_index), bytes(fixed), mask_bits, total


@lru_cache(maxsize=64)
def _rs_table(ec_count: int) -> tuple[int, ...]:
    """For each feedback byte f: the generator polynomial times f, packed as an int of
    ``ec_count`` bytes (so one LFSR step is a shift and an XOR on Python ints)."""
    poly = [1]
    for i in range(ec_count):
        nxt = [0] * (len(poly) + 1)
        for j, p in enumerate(poly):
            nxt[j] ^= p
            if p:
                nxt[j + 1] ^= _EXP[(_LOG[p] + i) % 255]
        poly = nxt
    gen = poly[1:]  # monic: leading 1 dropped
    table = [0]
    for f in range(1, 256):
        lf = _LOG[f]
        v = 0
        for g in gen:
            v = (v << 8) | (_EXP[(_LOG[g] + lf) % 255] if g else 0)
        table.append(v)
    return tuple(table)


def _rs_ec(data: list[int], ec_count: int) -> list[int]:
    table = _rs_table(ec_count)
    shift = 8 * (ec_count - 1)
    mask = (1 << (8 * ec_count)) - 1
    rem = 0
    for d in data:
        rem = ((rem << 8) & mask) ^ table[d ^ (rem >> shift)]
    return list(rem.to_bytes(ec_count, "big"))


_ALNUM = {c: i for i, c in enumerate(qrutil.ALPHA_NUM.decode("ascii"))}
_ALNUM_RE = re.compile("[" + re.escape(qrutil.ALPHA_NUM.decode("ascii")) + "]+")


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
    out: list[int] = []
    for group in (dc_blocks, ec_blocks):
        for i in range(max(len(g) for g in group)):
            out.extend(g[i] for g in group if i < len(g))
    return out


def _fits_alnum(text: str) -> bool:
    return _ALNUM_RE.fullmatch(text) is not None


def grid(payload: str, ecc: int = ERROR_CORRECT_M, mask: int = DEFAULT_MASK
         ) -> tuple[int, bytes]:
    """(n, row-major 0/1 module bytes with stride n + 1, the last byte of each row 0).

    The fast internal form used for drawing; :func:`matrix` is the readable one.
    """
    if not _fits_alnum(payload):
        q = qrcode.QRCode(error_correction=ecc, border=0)
        q.add_data(payload)
        q.make(fit=True)
        rows = (bytes(1 if v else 0 for v in row) + b"\0" for row in q.modules)
        return q.modules_count, b"".join(rows)
    version = _alnum_version(len(payload), ecc)
    codewords = _alnum_codewords(payload, version, ecc)
    n, gather, fixed, mask_bits, total = _template(version, ecc, mask)
    data = int.from_bytes(bytes(codewords), "big") << (total - 8 * len(codewords))
    bits = format(data ^ mask_bits, f"0{total}b").encode("ascii").translate(_BIT_BYTES)
    return n, bytes(gather(bits + fixed))


def matrix(payload: str, ecc: int = ERROR_CORRECT_M, mask: int = DEFAULT_MASK
           ) -> tuple[tuple[bool, ...], ...]:
    """The QR module matrix (True = dark) for ``payload``, without quiet zone."""
    n, cells = grid(payload, ecc, mask)
    return tuple(tuple(bool(v) for v in cells[r * (n + 1):r * (n + 1) + n]) for r in range(n))


# "x y w 1 re" strings by (size, run span): at most ~n^3/2 entries per symbol size.
_run_ops: dict[tuple[int, int, int], str] = {}


def grid_path_ops(n: int, cells: bytes) -> str:
    """PDF path operators for the dark modules of a :func:`grid` (see :func:`path_ops`)."""
    stride = n + 1
    parts: list[str] = []
    append = parts.append
    for m in _DARK_RUN.finditer(cells):
        a, b = m.span()
        op = _run_ops.get((n, a, b))
        if op is None:
            r, c = divmod(a, stride)
            op = _run_ops[(n, a, b)] = f"{c} {n - 1 - r} {b - a} 1 re"
        append(op)
    append("f")
    return "\n".join(parts)


def path_ops(modules: tuple[tuple[bool, ...], ...]) -> str:
    """PDF path operators for the dark modules, one unit per module, merged into
    horizontal runs (y grows upwards: row 0 is at the top). Filled with a single ``f``.

    Drawing runs rather than squares keeps the path ~3x smaller, and one path (rather
    than many rectangles) avoids hairline seams between modules in some RIPs.
    """
    n = len(modules)
    return grid_path_ops(n, b"".join(bytes(1 if v else 0 for v in row) + b"\0"
                                     for row in modules))
