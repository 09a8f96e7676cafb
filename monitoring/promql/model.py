"""What PromQL evaluation works with: label sets, the four value types, errors, number formatting.

Times are integer milliseconds since the Unix epoch, as in Prometheus. A label
set is a sorted tuple of (name, value) pairs without empty values (an empty
value and a missing label are the same thing in Prometheus).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

NAME = "__name__"

Labels = tuple[tuple[str, str], ...]
# one element of an instant vector: its labels and value
Sample = tuple[Labels, float]


def labels_of(pairs: dict[str, str]) -> Labels:
    return tuple(sorted((name, value) for name, value in pairs.items() if value != ""))


def label_value(labels: Labels, name: str) -> str:
    for key, value in labels:
        if key == name:
            return value
    return ""


def without_name(labels: Labels) -> Labels:
    return tuple(pair for pair in labels if pair[0] != NAME)


def with_label(labels: Labels, name: str, value: str) -> Labels:
    pairs = dict(labels)
    pairs[name] = value
    return labels_of(pairs)


def format_labels(labels: Labels) -> str:
    return "{" + ", ".join(f'{name}="{value}"' for name, value in labels) + "}"


def format_value(value: float) -> str:
    """A float as Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


SAME_LABELSET = "vector cannot contain metrics with the same labelset"


class PromQLError(Exception):
    """An error Prometheus answers as ``{"status": "error", "errorType": kind, "error": message}``."""

    kind = "execution"
    status = 422

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadData(PromQLError):
    kind = "bad_data"
    status = 400


class TooManySamples(PromQLError):
    def __init__(self, what: str = "query execution"):
        super().__init__(f"query processing would load too many samples into memory in {what}")


@dataclass
class Scalar:
    """One value per evaluation step."""

    values: list[float]


@dataclass
class String:
    value: str


@dataclass
class Vectors:
    """An instant vector at each evaluation step (what Prometheus' rangeEval works on)."""

    steps: list[list[Sample]]


@dataclass
class RangeSeries:
    labels: Labels
    times: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass
class Matrix:
    """A range vector: series with their points (a range selector's or a subquery's result)."""

    series: list[RangeSeries]


Value = Scalar | String | Vectors | Matrix


def check_unique(vector: list[Sample]) -> list[Sample]:
    """A vector as it is, or the error Prometheus gives when two elements have the same labels."""
    if len({labels for labels, _ in vector}) != len(vector):
        raise PromQLError(SAME_LABELSET)
    return vector
