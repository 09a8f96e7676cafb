"""PromQL binary operators: arithmetic, comparisons (filtering or ``bool``), and/or/unless, atan2.

Between two vectors, samples are matched per step on their labels (without the
metric name), or on the ``on(...)`` labels, or on all but the ``ignoring(...)``
ones; ``group_left`` / ``group_right`` allow many samples on one side to match
one on the other, copying the listed labels from the "one" side.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import promql_parser as pp

from monitoring.promql import gomath
from monitoring.promql.model import (
    NAME,
    Labels,
    PromQLError,
    Sample,
    Scalar,
    Value,
    Vectors,
    check_unique,
    format_labels,
)

if TYPE_CHECKING:
    from monitoring.promql.engine import Evaluator

ARITHMETIC = {"+", "-", "*", "/", "%", "^"}
COMPARISON = {"==", "!=", ">", "<", ">=", "<="}
SET_OPS = {"and", "or", "unless"}


def arithmetic(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return gomath.div(a, b)
    if op == "%":
        return gomath.mod(a, b)
    if op == "^":
        return gomath.pow_(a, b)
    if op == "atan2":
        return math.atan2(a, b)
    raise PromQLError(f"operator {op!r} not allowed here")


def compare(op: str, a: float, b: float) -> bool:
    return {
        "==": a == b,
        "!=": a != b,
        ">": a > b,
        "<": a < b,
        ">=": a >= b,
        "<=": a <= b,
    }[op]


def element(op: str, a: float, b: float) -> tuple[float, bool]:
    """The value of ``a op b`` between two samples, and whether the sample is kept."""
    if op in COMPARISON:
        return a, compare(op, a, b)
    return arithmetic(op, a, b), True


def evaluate(ev: Evaluator, node: pp.BinaryExpr) -> Value:
    op = str(node.op)
    modifier = node.modifier
    want_bool = bool(modifier and modifier.return_bool)
    lhs, rhs = ev.eval(node.lhs), ev.eval(node.rhs)
    if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
        if op in COMPARISON:
            return Scalar([float(compare(op, a, b)) for a, b in zip(lhs.values, rhs.values, strict=True)])
        return Scalar([arithmetic(op, a, b) for a, b in zip(lhs.values, rhs.values, strict=True)])
    if isinstance(lhs, Vectors) and isinstance(rhs, Scalar):
        steps = [_with_scalar(op, v, s, False, want_bool) for v, s in zip(lhs.steps, rhs.values, strict=True)]
    elif isinstance(lhs, Scalar) and isinstance(rhs, Vectors):
        steps = [_with_scalar(op, v, s, True, want_bool) for v, s in zip(rhs.steps, lhs.values, strict=True)]
    elif isinstance(lhs, Vectors) and isinstance(rhs, Vectors):
        matching = Matching.of(modifier, op)
        steps = [matching.apply(op, a, b, want_bool) for a, b in zip(lhs.steps, rhs.steps, strict=True)]
    else:
        raise PromQLError("binary operators apply to scalars and instant vectors only")
    return Vectors([check_unique(step) for step in steps])


def _with_scalar(op: str, vector: list[Sample], scalar: float, swap: bool, want_bool: bool) -> list[Sample]:
    out = []
    for labels, v in vector:
        a, b = (scalar, v) if swap else (v, scalar)
        value, keep = element(op, a, b)
        if op in COMPARISON and swap:
            value = v  # a comparison keeps the vector's value, whichever side it is on
        if want_bool:
            value, keep = float(keep), True
        if keep:
            if op in ARITHMETIC or want_bool:
                labels = tuple(pair for pair in labels if pair[0] != NAME)
            out.append((labels, value))
    return out


class Matching:
    """How two vectors' samples pair up: on/ignoring labels, and the cardinality."""

    def __init__(self, on: bool, names: list[str], card: str, include: list[str]):
        self.on = on
        self.names = frozenset(names)
        self.card = card  # one-to-one, many-to-one, one-to-many, many-to-many
        self.include = include

    @classmethod
    def of(cls, modifier, op: str) -> Matching:
        card = "many-to-many" if op in SET_OPS else "one-to-one"
        on, names, include = False, [], []
        if modifier is not None:
            if modifier.matching is not None:
                on = modifier.matching.type == pp.LabelModifierType.Include
                names = list(modifier.matching.labels)
            if modifier.card == pp.VectorMatchCardinality.ManyToOne:
                card = "many-to-one"
            elif modifier.card == pp.VectorMatchCardinality.OneToMany:
                card = "one-to-many"
            include = list(modifier.group_labels or [])
        return cls(on, names, card, include)

    def signature(self, labels: Labels) -> Labels:
        if self.on:
            return tuple(pair for pair in labels if pair[0] in self.names)
        return tuple(pair for pair in labels if pair[0] not in self.names and pair[0] != NAME)

    def apply(self, op: str, lhs: list[Sample], rhs: list[Sample], want_bool: bool) -> list[Sample]:
        if op == "and":
            right = {self.signature(labels) for labels, _ in rhs}
            return [s for s in lhs if self.signature(s[0]) in right] if lhs and rhs else []
        if op == "or":
            left = {self.signature(labels) for labels, _ in lhs}
            return lhs + [s for s in rhs if self.signature(s[0]) not in left]
        if op == "unless":
            right = {self.signature(labels) for labels, _ in rhs}
            return [s for s in lhs if self.signature(s[0]) not in right]
        return self.arithmetic(op, lhs, rhs, want_bool)

    def arithmetic(self, op: str, lhs: list[Sample], rhs: list[Sample], want_bool: bool) -> list[Sample]:
        if not lhs or not rhs:
            return []
        swapped = self.card == "one-to-many"
        many, one = (rhs, lhs) if swapped else (lhs, rhs)
        one_side: dict[Labels, Sample] = {}
        for sample in one:
            sig = self.signature(sample[0])
            if sig in one_side:
                side = "left" if swapped else "right"
                raise PromQLError(
                    f"found duplicate series for the match group {format_labels(sig)} on the {side} hand-side of "
                    f"the operation: [{format_labels(sample[0])}, {format_labels(one_side[sig][0])}];"
                    "many-to-many matching not allowed: matching labels must be unique on one side"
                )
            one_side[sig] = sample
        matched: dict[Labels, set] = {}
        out = []
        for labels, v in many:
            sig = self.signature(labels)
            other = one_side.get(sig)
            if other is None:
                continue
            a, b = (other[1], v) if swapped else (v, other[1])
            value, keep = element(op, a, b)
            if want_bool:
                value, keep = float(keep), True
            if not keep:
                continue
            result = self.result_labels(labels, other[0], op, want_bool)
            self._check_unique_match(sig, result, matched)
            out.append((result, value))
        return out

    def _check_unique_match(self, sig: Labels, result: Labels, matched: dict[Labels, set]) -> None:
        if self.card == "one-to-one":
            if sig in matched:
                raise PromQLError(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                )
            matched[sig] = set()
            return
        seen = matched.setdefault(sig, set())
        if result in seen:
            raise PromQLError("multiple matches for labels: grouping labels must ensure unique matches")
        seen.add(result)

    def result_labels(self, labels: Labels, other: Labels, op: str, want_bool: bool) -> Labels:
        pairs = dict(labels)
        if op in ARITHMETIC or want_bool:
            pairs.pop(NAME, None)
        if self.card == "one-to-one":
            if self.on:
                pairs = {k: v for k, v in pairs.items() if k in self.names}
            else:
                for name in self.names:
                    pairs.pop(name, None)
        if self.include:
            from_one = dict(other)
            for name in self.include:
                if from_one.get(name):
                    pairs[name] = from_one[name]
                else:
                    pairs.pop(name, None)
        return tuple(sorted(pairs.items()))
