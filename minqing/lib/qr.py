"""QR codes (error correction M) as rows of dark modules, for any page or PDF that draws one:
the contact cards (``minqing.contacts``) and the authenticator set-up page (``minqing.accounts``).

Pure computation (no database, no Django): reportlab's encoder turns the text into bits and
gives the layout, numpy does the rest (see below why).
"""

from __future__ import annotations

import functools

import numpy as np

# --------------------------------------------------------------------------- the QR code
#
# reportlab's QrCodeWidget takes ~120 ms a card (its encoder lays out the symbol eight times in
# pure Python to choose a mask, and each module is drawn as a validated shape): four minutes
# for a village of 2,000 households. Here reportlab's encoder only turns the text into bits and
# gives the layout (patterns, positions, masks, cached per version); the Reed-Solomon step uses
# cached generator polynomials; numpy lays out the eight masked symbols, scores them by the
# penalty rules of ISO/IEC 18004 and the dark runs go out as one filled path. The symbols are
# module for module reportlab's own (contacts/tests/test_cards.py compares them): ~3 ms a card.


def qr_modules(text: str) -> list[list[bool]]:
    """The QR code (error correction M) of ``text`` as rows of dark (True) modules."""
    symbols = qr_symbols(text)
    return symbols[int(np.argmin(_penalties(symbols)))].tolist()


def qr_symbols(text: str) -> np.ndarray:
    """The eight masked symbols of ``text`` (masks × n × n), module for module what reportlab's
    ``QRCode.makeImpl(False, mask)`` lays out, without its per-module Python loops."""
    from reportlab.graphics.barcode.qrencoder import QRCode, QRErrorCorrectLevel

    code = QRCode(None, QRErrorCorrectLevel.M)
    code.addData(text)
    version = code.version = code.calculate_version()
    codewords = qr_codewords(version, code.errorCorrectLevel, code.dataList)
    bits = np.unpackbits(np.array(codewords, dtype=np.uint8))  # most significant bit first
    rows, cols = _data_positions(version)
    data = np.zeros(len(rows), dtype=bool)
    data[: min(len(bits), len(rows))] = bits[: len(rows)].astype(bool)
    symbols = _function_patterns(version, code.errorCorrectLevel).copy()
    masks = _mask_grids(version * 4 + 17)
    for mask in range(8):
        symbols[mask][rows, cols] = data ^ masks[mask][rows, cols]
    return symbols


@functools.lru_cache(maxsize=16)
def _function_patterns(version: int, level: int) -> np.ndarray:
    """Finder, alignment and timing patterns, version and format information (per mask)."""
    from reportlab.graphics.barcode.qrencoder import QRCode

    code = QRCode(version, level)
    n = code.moduleCount = version * 4 + 17
    grids = np.empty((8, n, n), dtype=bool)
    for mask in range(8):
        code.modules = [[False] * n for _ in range(n)]
        code.setupPositionProbePattern(0, 0)
        code.setupPositionProbePattern(n - 7, 0)
        code.setupPositionProbePattern(0, n - 7)
        code.setupPositionAdjustPattern()
        code.setupTimingPattern()
        code.setupTypeInfo(False, mask)
        if version >= 7:
            code.setupTypeNumber(False)
        grids[mask] = np.array(code.modules, dtype=bool)
    grids.flags.writeable = False
    return grids


def qr_codewords(version: int, level: int, data_list: list) -> list[int]:
    """The interleaved data and error correction codewords, as reportlab's
    ``QRCode.createData`` makes them (same padding and block order) with a faster
    Reed-Solomon step: generator polynomials cached, remainders by table look-up."""
    from reportlab.graphics.barcode.qrencoder import QRBitBuffer, QRCode, QRRSBlock

    blocks = QRRSBlock.getRSBlocks(version, level)
    buffer = QRBitBuffer()
    for data in data_list:
        data.write(buffer, version)
    capacity = sum(block.dataCount for block in blocks) * 8
    if buffer.getLengthInBits() > capacity:
        raise ValueError(f"code length overflow ({buffer.getLengthInBits()} > {capacity})")
    if buffer.getLengthInBits() + 4 <= capacity:
        buffer.put(0, 4)
    while buffer.getLengthInBits() % 8:
        buffer.putBit(False)
    pads = (QRCode.PAD0, QRCode.PAD1)
    pad = 0
    while buffer.getLengthInBits() < capacity:
        buffer.put(pads[pad], 8)  # 0xEC, 0x11, 0xEC, ... from the first pad byte
        pad ^= 1
    offset = 0
    data_blocks: list[list[int]] = []
    ec_blocks: list[list[int]] = []
    for block in blocks:
        chunk = list(buffer.buffer[offset : offset + block.dataCount])
        offset += block.dataCount
        data_blocks.append(chunk)
        ec_blocks.append(_rs_remainder(chunk, block.totalCount - block.dataCount))
    out: list[int] = []
    for group in (data_blocks, ec_blocks):
        for i in range(max(len(b) for b in group)):
            out.extend(b[i] for b in group if i < len(b))
    return out


@functools.lru_cache(maxsize=64)
def _rs_generator_logs(count: int) -> tuple[int, ...]:
    """log α of the coefficients after the leading 1 of prod(x + α^i, i < count)."""
    from reportlab.graphics.barcode.qrencoder import EXP_TABLE, LOG_TABLE

    poly = [1]
    for i in range(count):
        nxt = [*poly, 0]
        for j, coef in enumerate(poly):
            if coef:
                nxt[j + 1] ^= EXP_TABLE[(LOG_TABLE[coef] + i) % 255]
        poly = nxt
    return tuple(LOG_TABLE[c] for c in poly[1:])


def _rs_remainder(data: list[int], count: int) -> list[int]:
    from reportlab.graphics.barcode.qrencoder import EXP_TABLE, LOG_TABLE

    logs = _rs_generator_logs(count)
    remainder = [0] * count
    for byte in data:
        factor = byte ^ remainder[0]
        remainder = remainder[1:]
        remainder.append(0)
        if factor:
            base = LOG_TABLE[factor]
            for i, log in enumerate(logs):
                remainder[i] ^= EXP_TABLE[(base + log) % 255]
    return remainder


@functools.lru_cache(maxsize=8)
def _data_positions(version: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the data modules, in placement order (they depend on the version)."""
    from reportlab.graphics.barcode.qrencoder import QRCode, QRErrorCorrectLevel

    code = QRCode(version, QRErrorCorrectLevel.M)
    code.moduleCount = version * 4 + 17
    positions = list(code.dataPosIterator())
    cols = np.fromiter((c for c, _r in positions), dtype=np.intp, count=len(positions))
    rows = np.fromiter((r for _c, r in positions), dtype=np.intp, count=len(positions))
    rows.flags.writeable = cols.flags.writeable = False
    return rows, cols


@functools.lru_cache(maxsize=8)
def _mask_grids(n: int) -> np.ndarray:
    """The eight mask patterns over an n × n symbol (True: flip the data module)."""
    from reportlab.graphics.barcode.qrencoder import QRUtil

    grids = np.empty((8, n, n), dtype=bool)
    for k in range(8):
        mask = QRUtil.getMask(k)
        grids[k] = [[bool(mask(r, c)) for c in range(n)] for r in range(n)]
    grids.flags.writeable = False
    return grids


def _penalties(m: np.ndarray) -> np.ndarray:
    """ISO/IEC 18004 mask penalties N1–N4 of each symbol in ``m`` (masks × n × n)."""
    both = np.concatenate([m, m.transpose(0, 2, 1)], axis=1)  # rows, then columns as rows
    k, rows, n = both.shape
    # N1: 3 + (length - 5) for each run of five or more modules of one colour.
    change = np.ones((k, rows, n + 1), dtype=bool)
    change[:, :, 1:n] = both[:, :, 1:] != both[:, :, :-1]
    which, row, col = np.nonzero(change)
    same = (which[1:] == which[:-1]) & (row[1:] == row[:-1])
    lengths = np.diff(col)[same]
    n1 = np.bincount(which[:-1][same], weights=np.where(lengths >= 5, lengths - 2, 0), minlength=k)
    # N2: 3 for each 2×2 block of one colour.
    top, right = m[:, :-1, :-1], m[:, :-1, 1:]
    block = (top == right) & (top == m[:, 1:, :-1]) & (top == m[:, 1:, 1:])
    n2 = 3 * block.sum(axis=(1, 2))
    # N3: 40 for each 1:1:3:1:1 finder-like pattern with four light modules on a side.
    padded = np.zeros((k, rows, n + 8), dtype=bool)
    padded[:, :, 4 : 4 + n] = both
    n3 = np.zeros(k)
    for pattern in (
        (1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0),
        (0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1),
    ):
        hit = np.ones((k, rows, n + 8 - 10), dtype=bool)
        for j, dark in enumerate(pattern):
            hit &= padded[:, :, j : j + n + 8 - 10] == bool(dark)
        n3 += 40 * hit.sum(axis=(1, 2))
    # N4: 10 for each 5 % the share of dark modules strays from half.
    dark = m.mean(axis=(1, 2)) * 100
    n4 = 10 * np.floor(np.abs(dark - 50) / 5)
    return n1 + n2 + n3 + n4
