"""The canonical program every formulation emits into (stack.md, design consequence 2).

A :class:`Program` holds

* named **variable blocks** (contiguous columns with bounds, integrality and an optional pandas index),
* named **row blocks** of sparse linear constraints ``lo <= A x <= hi`` (``lo == hi`` for equalities),
* a list of **second-order cones** ``|| G_i x + g_i ||_2 <= f_i^T x + c_i`` (standard or rotated),
* an objective ``c^T x + 1/2 x^T P x + const`` (``P`` positive semidefinite).

Backends (:mod:`tenflow.solve.highs`, :mod:`tenflow.solve.clarabel_backend`, optional SCIP) translate it.
Formulations build it from sparse blocks; they never call a solver directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

Array = np.ndarray


@dataclass
class VarBlock:
    """A contiguous block of variables (columns ``start .. start+size-1``)."""

    name: str
    start: int
    size: int
    index: pd.Index | None = None

    @property
    def slice(self) -> slice:
        return slice(self.start, self.start + self.size)

    @property
    def cols(self) -> Array:
        return np.arange(self.start, self.start + self.size)


@dataclass
class RowBlock:
    """A contiguous block of linear rows."""

    name: str
    start: int
    size: int
    index: pd.Index | None = None

    @property
    def slice(self) -> slice:
        return slice(self.start, self.start + self.size)


@dataclass
class Cone:
    """Second-order cone ``|| G x + g ||_2 <= f^T x + c``.

    With ``rotated=True`` the cone is ``2 (f1^T x + c1)(f2^T x + c2) >= || G x + g ||^2``,
    ``f1, f2 >= 0`` parts given as the first two rows of ``F`` / ``cvec``.
    """

    name: str
    F: sp.csr_matrix  # 1 x n (standard) or 2 x n (rotated)
    c: Array
    G: sp.csr_matrix  # m x n
    g: Array
    rotated: bool = False


@dataclass
class Program:
    """Canonical optimisation program (see module docstring)."""

    name: str = "program"
    sense: str = "min"
    blocks: dict[str, VarBlock] = field(default_factory=dict)
    rows: dict[str, RowBlock] = field(default_factory=dict)
    cones: list[Cone] = field(default_factory=list)
    _lb: list[Array] = field(default_factory=list)
    _ub: list[Array] = field(default_factory=list)
    _int: list[Array] = field(default_factory=list)
    _A: list[sp.coo_matrix] = field(default_factory=list)
    _lo: list[Array] = field(default_factory=list)
    _hi: list[Array] = field(default_factory=list)
    _c: list[tuple[Array, Array]] = field(default_factory=list)
    _P: list[sp.coo_matrix] = field(default_factory=list)
    const: float = 0.0
    n: int = 0
    m: int = 0

    # ------------------------------------------------------------------ variables
    def add_vars(
        self,
        name: str,
        size: int | pd.Index,
        lb: float | Array = 0.0,
        ub: float | Array = np.inf,
        integer: bool | Array = False,
    ) -> VarBlock:
        """Add a named block of variables; returns its :class:`VarBlock`."""
        if name in self.blocks:
            raise ValueError(f"variable block '{name}' exists already")
        index = size if isinstance(size, pd.Index) else None
        k = len(size) if isinstance(size, pd.Index) else int(size)
        blk = VarBlock(name, self.n, k, index)
        self.blocks[name] = blk
        self._lb.append(np.broadcast_to(np.asarray(lb, dtype=float), (k,)).copy())
        self._ub.append(np.broadcast_to(np.asarray(ub, dtype=float), (k,)).copy())
        self._int.append(np.broadcast_to(np.asarray(integer, dtype=bool), (k,)).copy())
        self.n += k
        return blk

    def var(self, name: str) -> VarBlock:
        return self.blocks[name]

    @property
    def lb(self) -> Array:
        return np.concatenate(self._lb) if self._lb else np.zeros(0)

    @property
    def ub(self) -> Array:
        return np.concatenate(self._ub) if self._ub else np.zeros(0)

    @property
    def integrality(self) -> Array:
        return np.concatenate(self._int) if self._int else np.zeros(0, dtype=bool)

    def set_bounds(self, block: str, lb: float | Array | None = None, ub: float | Array | None = None,
                   where: Array | slice | None = None) -> None:
        """Change bounds of (part of) a block, e.g. to fix integer decisions."""
        b = self.blocks[block]
        i = list(self.blocks).index(block)
        sel = slice(None) if where is None else where
        if lb is not None:
            self._lb[i][sel] = lb
        if ub is not None:
            self._ub[i][sel] = ub
        assert self._lb[i].shape == (b.size,)

    def is_mip(self) -> bool:
        return bool(self.integrality.any())

    # ------------------------------------------------------------------ rows
    def add_rows(
        self,
        name: str,
        A: sp.spmatrix | Sequence[tuple[VarBlock | str, sp.spmatrix | Array]],
        lo: float | Array = -np.inf,
        hi: float | Array = np.inf,
        index: pd.Index | None = None,
    ) -> RowBlock:
        """Add linear rows ``lo <= A x <= hi``.

        ``A`` is either a sparse matrix over all current columns (``A.shape[1] <= n``) or a list of
        ``(block, coefficient matrix)`` pairs whose matrices have the block's width; they are summed.
        """
        if name in self.rows:
            raise ValueError(f"row block '{name}' exists already")
        if isinstance(A, (list, tuple)):
            parts = []
            m_rows: int | None = None
            for blk, mat in A:
                vb = self.blocks[blk] if isinstance(blk, str) else blk
                M = sp.coo_matrix(mat)
                if M.shape[1] != vb.size:
                    raise ValueError(f"rows '{name}': block '{vb.name}' has {vb.size} columns, matrix {M.shape[1]}")
                m_rows = M.shape[0] if m_rows is None else m_rows
                if M.shape[0] != m_rows:
                    raise ValueError(f"rows '{name}': inconsistent row counts")
                parts.append(sp.coo_matrix((M.data, (M.row, M.col + vb.start)), shape=(M.shape[0], self.n)))
            if m_rows is None:
                raise ValueError(f"rows '{name}': no terms")
            Acoo = parts[0]
            for P in parts[1:]:
                Acoo = (Acoo + P).tocoo()
        else:
            Acoo = sp.coo_matrix(A)
        m = Acoo.shape[0]
        rb = RowBlock(name, self.m, m, index)
        self.rows[name] = rb
        self._A.append(sp.coo_matrix((Acoo.data, (Acoo.row + self.m, Acoo.col)), shape=(self.m + m, Acoo.shape[1])))
        self._lo.append(np.broadcast_to(np.asarray(lo, dtype=float), (m,)).copy())
        self._hi.append(np.broadcast_to(np.asarray(hi, dtype=float), (m,)).copy())
        self.m += m
        return rb

    @property
    def A(self) -> sp.csr_matrix:
        if not self._A:
            return sp.csr_matrix((0, self.n))
        rows = np.concatenate([a.row for a in self._A])
        cols = np.concatenate([a.col for a in self._A])
        vals = np.concatenate([a.data for a in self._A])
        return sp.csr_matrix((vals, (rows, cols)), shape=(self.m, self.n))

    @property
    def row_lo(self) -> Array:
        return np.concatenate(self._lo) if self._lo else np.zeros(0)

    @property
    def row_hi(self) -> Array:
        return np.concatenate(self._hi) if self._hi else np.zeros(0)

    # ------------------------------------------------------------------ cones
    def add_soc(
        self,
        name: str,
        F: sp.spmatrix | Array,
        c: float | Array,
        G: sp.spmatrix | Array,
        g: Array | float = 0.0,
        rotated: bool = False,
    ) -> None:
        """Add one second-order cone (see :class:`Cone`). Matrices are over all current columns."""
        Fm = sp.csr_matrix(F)
        Gm = sp.csr_matrix(G)
        Fm = sp.csr_matrix((Fm.data, Fm.indices, Fm.indptr), shape=(Fm.shape[0], self.n))
        Gm = sp.csr_matrix((Gm.data, Gm.indices, Gm.indptr), shape=(Gm.shape[0], self.n))
        cv = np.broadcast_to(np.asarray(c, dtype=float), (Fm.shape[0],)).copy()
        gv = np.broadcast_to(np.asarray(g, dtype=float), (Gm.shape[0],)).copy()
        if rotated and Fm.shape[0] != 2:
            raise ValueError("a rotated cone needs two rows in F")
        self.cones.append(Cone(name, Fm, cv, Gm, gv, rotated))

    # ------------------------------------------------------------------ objective
    def add_objective(self, block: VarBlock | str, coef: float | Array) -> None:
        """Add linear cost ``coef`` on the columns of ``block``."""
        vb = self.blocks[block] if isinstance(block, str) else block
        self._c.append((vb.cols, np.broadcast_to(np.asarray(coef, dtype=float), (vb.size,)).copy()))

    def add_quadratic(self, P: sp.spmatrix) -> None:
        """Add ``1/2 x^T P x`` (P symmetric PSD, over all current columns)."""
        self._P.append(sp.coo_matrix(P))

    @property
    def c(self) -> Array:
        out = np.zeros(self.n)
        for cols, v in self._c:
            np.add.at(out, cols, v)
        return out

    @property
    def P(self) -> sp.csc_matrix | None:
        if not self._P:
            return None
        tot = sp.csc_matrix((self.n, self.n))
        for p in self._P:
            tot = tot + sp.csc_matrix((p.data, (p.row, p.col)), shape=(self.n, self.n))
        return sp.csc_matrix(tot)

    def size_summary(self) -> dict[str, int]:
        integ = self.integrality
        return {
            "variables": self.n,
            "integer": int(integ.sum()),
            "rows": self.m,
            "nonzeros": int(sum(a.nnz for a in self._A)),
            "cones": len(self.cones),
        }


@dataclass
class Solution:
    """A backend's answer, mapped back to the program's blocks."""

    status: str  # "optimal", "feasible" (stopped with incumbent), "infeasible", "unbounded", "error", "time_limit"
    objective: float
    x: Array
    row_duals: Array | None = None  # d(objective)/d(row bound) sign convention: see backend docstrings
    bound: float | None = None  # proven lower bound (minimisation), MIP dual bound
    gap: float | None = None
    solver: str = ""
    time_s: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
    program: Program | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("optimal", "feasible")

    def __getitem__(self, block: str) -> Array:
        assert self.program is not None
        return self.x[self.program.blocks[block].slice]

    def dual(self, rows: str) -> Array:
        assert self.program is not None and self.row_duals is not None
        return self.row_duals[self.program.rows[rows].slice]
