"""What an expression node is: its value type, without its parentheses (shared by the engine and its parts)."""

from __future__ import annotations

import promql_parser as pp

from monitoring.promql.model import PromQLError


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
