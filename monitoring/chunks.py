"""The compact layout of a closed day: one chunk of bytes per (series, day), and back.

A chunk holds a series' samples of one day, sorted by (ts, value), lossless:

- timestamps (microseconds since the Unix epoch) as the first one, then each
  gap minus the day's median gap: exact 10 s ticks leave only zeros, a tick
  jittered by tens of milliseconds leaves a few tens of thousands;
- values, when every one of them is a decimal with at most ``MAX_DECIMALS``
  digits (2-decimal gauges, integer counters, constants), as integers scaled by
  10^k, then the first one and each difference (or the difference of the
  differences, whichever packs smaller: a counter climbing at a steady rate);
  otherwise as the XOR of each float's bits with the previous one's (as
  Gorilla does), so that repeated and slowly changing values leave zeros.

Each integer stream is zigzag-encoded (small negatives become small positives)
and split into byte planes (all the lowest bytes, then the next ...); planes
holding only zeros are not stored at all, and the rest are compressed with
zstd (or zlib, ``CODECS``) in one frame. Decoding is a few vectorised numpy
steps: a day of one series decodes in tens of microseconds.

bench/storage.py measures it against narrow rows and PostgreSQL arrays.
"""

from __future__ import annotations

import struct
import zlib

import cramjam
import numpy as np

VERSION = 1
MAX_DECIMALS = 9
# values beyond 2**53 are not all exact integers in a float: never scale those
_EXACT = 2**53

TS_GAPS = 0  # first timestamp, then gaps minus the median gap
VALUES_XOR = 0  # float bits XOR the previous value's bits
VALUES_DELTA = 1  # scaled integers, differences
VALUES_DELTA2 = 2  # scaled integers, differences of differences

CODECS = {
    1: (lambda data: bytes(cramjam.zstd.compress(data, level=9)), lambda data: bytes(cramjam.zstd.decompress(data))),
    2: (lambda data: zlib.compress(data, 9), zlib.decompress),
}
ZSTD, ZLIB = 1, 2
DEFAULT_CODEC = ZSTD

# version, codec, count, first ts, median gap, ts plane mask, value mode, decimals, first value, value plane mask
_HEADER = struct.Struct("<BBIqqBBBqB")


def encode(stamps: np.ndarray, values: np.ndarray, codec: int = DEFAULT_CODEC) -> bytes:
    """One chunk from timestamps (int64 microseconds since the Unix epoch) and float64 values, sorted by (ts, value)."""
    count = len(stamps)
    if count == 0:
        raise ValueError("an empty chunk")
    stamps = np.ascontiguousarray(stamps, dtype=np.int64)
    values = np.ascontiguousarray(values, dtype=np.float64)
    gaps = np.diff(stamps)
    gap = int(np.median(gaps)) if len(gaps) else 0
    ts_mask, ts_planes = _planes(_zigzag(gaps - gap))
    mode, decimals, first, value_stream = _value_stream(values)
    value_mask, value_planes = _planes(value_stream)
    header = _HEADER.pack(VERSION, codec, count, int(stamps[0]), gap, ts_mask, mode, decimals, first, value_mask)
    body = ts_planes + value_planes
    return header + (CODECS[codec][0](body) if body else b"")


def decode(chunk: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The timestamps (int64 microseconds since the Unix epoch) and values of a chunk."""
    version, codec, count, t0, gap, ts_mask, mode, decimals, first, value_mask = _HEADER.unpack_from(chunk)
    if version != VERSION:
        raise ValueError(f"chunk version {version} is not known")
    body = chunk[_HEADER.size :]
    body = CODECS[codec][1](body) if body else b""
    ts_size = (count - 1) * ts_mask.bit_count()
    gaps = _unzigzag(_unplanes(body[:ts_size], ts_mask, count - 1)) + gap
    stamps = np.empty(count, dtype=np.int64)
    stamps[0] = t0
    np.cumsum(gaps, out=stamps[1:])
    stamps[1:] += t0
    stream = _unplanes(body[ts_size:], value_mask, count - 1)
    if mode == VALUES_XOR:
        bits = np.empty(count, dtype=np.uint64)
        bits[0] = np.int64(first).view(np.uint64)
        np.bitwise_xor.accumulate(stream, out=bits[1:])
        bits[1:] ^= bits[0]
        return stamps, bits.view(np.float64)
    steps = _unzigzag(stream)
    if mode == VALUES_DELTA2:
        steps = np.cumsum(steps)
    ints = np.empty(count, dtype=np.int64)
    ints[0] = first
    np.cumsum(steps, out=ints[1:])
    ints[1:] += first
    return stamps, _unscale(ints, decimals)


def _value_stream(values: np.ndarray) -> tuple[int, int, int, np.ndarray]:
    """(mode, decimals, first, stream to pack) for the values, the smallest that decodes exactly."""
    ints, decimals = _as_decimals(values)
    if ints is None:
        bits = values.view(np.uint64)
        return VALUES_XOR, 0, int(bits[0].view(np.int64)), bits[1:] ^ bits[:-1]
    steps = np.diff(ints)
    once, twice = _zigzag(steps), _zigzag(np.diff(steps, prepend=np.int64(0)))
    # whichever leaves the smaller numbers: the packed size follows the widest byte of each
    if int(np.abs(np.diff(steps)).sum()) < int(np.abs(steps).sum()):
        return VALUES_DELTA2, decimals, int(ints[0]), twice
    return VALUES_DELTA, decimals, int(ints[0]), once


def _as_decimals(values: np.ndarray) -> tuple[np.ndarray | None, int]:
    """The values as integers times 10^-k for the smallest k that gives them back bit for bit, if any."""
    bits = values.view(np.int64)
    with np.errstate(invalid="ignore", over="ignore"):
        for decimals in range(MAX_DECIMALS + 1):
            scaled = np.rint(values * float(10**decimals))
            if not np.all(np.abs(scaled) < _EXACT):  # also false for NaN and infinities
                return None, 0
            ints = scaled.astype(np.int64)
            if np.array_equal(_unscale(ints, decimals).view(np.int64), bits):
                return ints, decimals
    return None, 0


def _unscale(ints: np.ndarray, decimals: int) -> np.ndarray:
    # the one expression both the encoder's check and the decoder use: bit-identical floats
    return ints.astype(np.float64) / float(10**decimals)


def _zigzag(numbers: np.ndarray) -> np.ndarray:
    numbers = numbers.astype(np.int64)
    return ((numbers << 1) ^ (numbers >> 63)).view(np.uint64)


def _unzigzag(packed: np.ndarray) -> np.ndarray:
    return (packed >> np.uint64(1)).view(np.int64) ^ -(packed & np.uint64(1)).view(np.int64)


def _planes(numbers: np.ndarray) -> tuple[int, bytes]:
    """(mask of the byte planes that hold anything, those planes one after the other)."""
    if len(numbers) == 0:
        return 0, b""
    planes = np.ascontiguousarray(numbers, dtype="<u8").view(np.uint8).reshape(-1, 8)
    used = [p for p in range(8) if planes[:, p].any()]
    mask = sum(1 << p for p in used)
    return mask, planes[:, used].T.tobytes() if used else b""


def _unplanes(data: bytes, mask: int, count: int) -> np.ndarray:
    planes = np.zeros((count, 8), dtype=np.uint8)
    used = [p for p in range(8) if mask >> p & 1]
    if used:
        planes[:, used] = np.frombuffer(data, dtype=np.uint8, count=count * len(used)).reshape(len(used), count).T
    return planes.view("<u8").reshape(count).astype(np.uint64)
