"""Obs value filters for ``.h5ad`` files, written as for TileDB-SOMA.

``"cell_type == 'B cell' and donor in ['d1', 'd2']"`` selects the same cells from an
``.h5ad`` file as SOMA's ``value_filter`` does from an experiment, so one config reads
either. The filter is parsed, never evaluated as code: only column names, constants,
lists of constants, comparisons (``== != < <= > >= in not in``) and ``and``/``or``/``not``
are accepted.
"""

from __future__ import annotations

import ast
import operator
from typing import Any

import numpy as np
import pandas as pd

_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


class _Filter:
    def __init__(self, obs: pd.DataFrame, text: str, where: str) -> None:
        self.obs = obs
        self.text = text
        self.where = where

    def fail(self, why: str) -> ValueError:
        return ValueError(
            f"{self.where}: the obs filter {self.text!r} {why}; write it as column == 'value', "
            "column in ['a', 'b'], joined with and/or/not."
        )

    def mask(self, node: ast.AST) -> np.ndarray:
        if isinstance(node, ast.BoolOp):
            parts = [self.mask(v) for v in node.values]
            combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            result = parts[0]
            for part in parts[1:]:
                result = combine(result, part)
            return result
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ~self.mask(node.operand)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            return self.compare(node.left, node.ops[0], node.comparators[0])
        raise self.fail(f"holds {ast.unparse(node)!r}, which is not a comparison")

    def column(self, node: ast.AST) -> pd.Series:
        if not isinstance(node, ast.Name):
            raise self.fail(f"compares {ast.unparse(node)!r}, which is not an obs column name")
        if node.id not in self.obs.columns:
            raise self.fail(
                f"names {node.id!r}, which is not an obs column (they are "
                f"{sorted(map(str, self.obs.columns))})"
            )
        return self.obs[node.id]

    def constant(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.List | ast.Tuple):
            return [self.constant(e) for e in node.elts]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -self.constant(node.operand)
        raise self.fail(f"compares with {ast.unparse(node)!r}, which is not a value")

    def compare(self, left: ast.AST, op: ast.cmpop, right: ast.AST) -> np.ndarray:
        series = self.column(left)
        value = self.constant(right)
        if isinstance(op, ast.In | ast.NotIn):
            if not isinstance(value, list):
                raise self.fail("uses 'in' without a list of values")
            found = series.isin(value).to_numpy()
            return found if isinstance(op, ast.In) else ~found
        if type(op) not in _COMPARE:
            raise self.fail(f"uses {type(op).__name__}, which is not a comparison it knows")
        values = series.astype(object) if isinstance(series.dtype, pd.CategoricalDtype) else series
        return np.asarray(_COMPARE[type(op)](values, value), dtype=bool)


def filter_rows(obs: pd.DataFrame, text: str, where: str) -> np.ndarray:
    """Return the positions of the obs rows that pass a filter, in order.

    Args:
        obs (pd.DataFrame): the cells' annotations.
        text (str): the filter, as for SOMA's ``value_filter``.
        where (str): the file, for messages.

    Raises:
        ValueError: the filter cannot be read, names a column obs lacks, or keeps no cell.
    """
    check = _Filter(obs, text, where)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise check.fail("cannot be read") from None
    rows = np.flatnonzero(check.mask(tree.body))
    if rows.size == 0:
        raise ValueError(f"{where}: no cell passes the obs filter {text!r}.")
    return rows
