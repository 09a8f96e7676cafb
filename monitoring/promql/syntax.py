"""Reading promql-parser's syntax tree: types of expressions, durations and times, selectors' matchers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import promql_parser as pp

from monitoring.promql.catalog import Matcher
from monitoring.promql.model import NAME, PromQLError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# (promql-parser's enums are not hashable: looked up by name)
_MATCH_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


def ms_of(delta: timedelta | None) -> int:
    return 0 if delta is None else round(delta / _MS)


def ms_at(moment: datetime) -> int:
    return round((moment - _EPOCH) / _MS)


def unwrap(node):
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    return node


def value_type(node) -> str:
    """The type of an expression: "vector", "scalar", "matrix" or "string"."""
    node = unwrap(node)
    if isinstance(node, (pp.VectorSelector, pp.AggregateExpr)):
        return "vector"
    if isinstance(node, (pp.MatrixSelector, pp.SubqueryExpr)):
        return "matrix"
    if isinstance(node, pp.NumberLiteral):
        return "scalar"
    if isinstance(node, pp.StringLiteral):
        return "string"
    if isinstance(node, pp.Call):
        return str(node.func.return_type).rsplit(".", 1)[-1].lower()
    if isinstance(node, pp.UnaryExpr):
        return value_type(node.expr)
    if isinstance(node, pp.BinaryExpr):
        both_scalar = value_type(node.lhs) == "scalar" and value_type(node.rhs) == "scalar"
        return "scalar" if both_scalar else "vector"
    raise PromQLError(f"unsupported expression {type(node).__name__}")


def matchers_of(selector: pp.VectorSelector) -> list[Matcher]:
    if selector.matchers.or_matchers:
        raise PromQLError("selectors with 'or' between matcher sets are not supported")
    found = [Matcher(_MATCH_OPS[str(m.op).rsplit(".", 1)[-1]], m.name, m.value) for m in selector.matchers.matchers]
    if selector.name:
        found.append(Matcher("=", NAME, selector.name))
    return found


def string_arg(node) -> str:
    node = unwrap(node)
    if not isinstance(node, pp.StringLiteral):
        raise PromQLError("expected a string literal")
    return node.val
