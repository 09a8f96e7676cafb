"""Float arithmetic as Go's math package does it: NaN and infinities instead of Python's exceptions.

PromQL answers ``1/0`` with +Inf, ``ln(-1)`` with NaN and ``0^-1`` with +Inf;
Python raises for each. These wrappers give Go's answers.
"""

from __future__ import annotations

import math

NAN = math.nan
INF = math.inf


def div(a: float, b: float) -> float:
    if b == 0 or math.isnan(b):
        if math.isnan(a) or math.isnan(b) or a == 0:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)
    return a / b


def mod(a: float, b: float) -> float:
    if b == 0 or math.isnan(a) or math.isnan(b) or math.isinf(a):
        return NAN
    if math.isinf(b):
        return a
    return math.fmod(a, b)


def pow_(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        return INF if a > 0 or float(b).is_integer() and int(b) % 2 == 0 else -INF
    except ValueError:
        if a == 0:
            # 0 to a negative power: ±Inf (the sign of -0 kept for odd integer powers)
            odd = float(b).is_integer() and int(b) % 2 == 1
            return math.copysign(INF, a) if odd else INF
        return NAN


def _log(f, v: float) -> float:
    if math.isnan(v) or v < 0:
        return NAN
    if v == 0:
        return -INF
    if math.isinf(v):
        return INF
    return f(v)


def ln(v: float) -> float:
    return _log(math.log, v)


def log2(v: float) -> float:
    return _log(math.log2, v)


def log10(v: float) -> float:
    return _log(math.log10, v)


def sqrt(v: float) -> float:
    return NAN if math.isnan(v) or v < 0 else math.sqrt(v)


def exp(v: float) -> float:
    try:
        return math.exp(v)
    except OverflowError:
        return INF


def _safe(f, v: float, overflow: float = INF) -> float:
    try:
        return f(v)
    except OverflowError:
        return math.copysign(overflow, v) if f is math.sinh else overflow
    except ValueError:
        return NAN


def sin(v: float) -> float:
    return _safe(math.sin, v)


def cos(v: float) -> float:
    return _safe(math.cos, v)


def tan(v: float) -> float:
    return _safe(math.tan, v)


def asin(v: float) -> float:
    return _safe(math.asin, v)


def acos(v: float) -> float:
    return _safe(math.acos, v)


def atan(v: float) -> float:
    return math.atan(v)


def sinh(v: float) -> float:
    return _safe(math.sinh, v)


def cosh(v: float) -> float:
    return _safe(math.cosh, v)


def tanh(v: float) -> float:
    return math.tanh(v)


def asinh(v: float) -> float:
    return math.asinh(v)


def acosh(v: float) -> float:
    return _safe(math.acosh, v)


def atanh(v: float) -> float:
    if v == 1 or v == -1:
        return math.copysign(INF, v)
    return _safe(math.atanh, v)


def sgn(v: float) -> float:
    if v < 0:
        return -1.0
    if v > 0:
        return 1.0
    return v


def go_floor(v: float) -> float:
    return v if math.isinf(v) or math.isnan(v) else float(math.floor(v))


def go_ceil(v: float) -> float:
    return v if math.isinf(v) or math.isnan(v) else float(math.ceil(v))


def kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    t = total + inc
    if abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c
