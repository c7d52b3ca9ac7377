"""HiGHS backend (LP and MILP) for the canonical :class:`~tenflow.solve.program.Program`.

The model is passed in one call (``Highs.passModel`` with a column-wise sparse matrix, no per-element
Python loops). :class:`HighsSolver` keeps the HiGHS object alive so that cuts can be added
incrementally (``addRows``) and the model re-solved, as the outer approximation of the coordinated
OMTEPF problem needs (omtepf.md §3.10, option 3).

Dual sign convention (both backends): ``Solution.row_duals[i]`` is the derivative of the optimal
objective with respect to the active bound of row ``i`` (for an equality row ``a x = b``: ``d obj / d b``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from tenflow.errors import SolverError
from tenflow.solve.program import Program, Solution

try:  # pragma: no cover - import guard
    import highspy
except ImportError:  # pragma: no cover
    highspy = None  # type: ignore[assignment]


_STATUS = {
    "kOptimal": "optimal",
    "kInfeasible": "infeasible",
    "kUnbounded": "unbounded",
    "kUnboundedOrInfeasible": "infeasible",
    "kTimeLimit": "time_limit",
    "kIterationLimit": "time_limit",
    "kSolutionLimit": "time_limit",
    "kInterrupt": "time_limit",
}


class HighsSolver:
    """A HiGHS instance holding one program; supports incremental rows and re-solves."""

    def __init__(self, prog: Program, *, threads: int | None = None, verbose: bool = False,
                 options: dict[str, Any] | None = None) -> None:
        if highspy is None:  # pragma: no cover
            raise SolverError("highspy is not installed")
        if prog.cones:
            raise SolverError(
                f"program '{prog.name}' has {len(prog.cones)} second-order cones; HiGHS solves LP/MILP only "
                "(use the Clarabel backend or an outer approximation)"
            )
        if prog.P is not None and prog.is_mip():
            raise SolverError("HiGHS cannot solve MIQP problems")
        self.prog = prog
        self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", bool(verbose))
        if threads:
            self.h.setOptionValue("threads", int(threads))
        for k, v in (options or {}).items():
            self.h.setOptionValue(k, v)
        self._pass(prog)
        self.n_extra_rows = 0

    def _pass(self, prog: Program) -> None:
        lp = highspy.HighsLp()
        A = sp.csc_matrix(prog.A)
        A.sort_indices()
        n, m = prog.n, prog.m
        lp.num_col_ = n
        lp.num_row_ = m
        lp.col_cost_ = prog.c
        lp.col_lower_ = prog.lb
        lp.col_upper_ = prog.ub
        lp.row_lower_ = prog.row_lo
        lp.row_upper_ = prog.row_hi
        lp.offset_ = prog.const
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_ = n
        lp.a_matrix_.num_row_ = m
        lp.a_matrix_.start_ = A.indptr.astype(np.int32)
        lp.a_matrix_.index_ = A.indices.astype(np.int32)
        lp.a_matrix_.value_ = A.data.astype(float)
        integ = prog.integrality
        if integ.any():
            lp.integrality_ = [
                highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous for f in integ
            ]
        if prog.sense == "max":
            lp.sense_ = highspy.ObjSense.kMaximize
        status = self.h.passModel(lp)
        if status == highspy.HighsStatus.kError:
            raise SolverError(f"HiGHS rejected program '{prog.name}'")
        P = prog.P
        if P is not None:
            T = sp.triu(P, format="csc")
            T.sort_indices()
            self.h.passHessian(n, T.nnz, int(highspy.HessianFormat.kTriangular),
                               T.indptr.astype(np.int32), T.indices.astype(np.int32), T.data.astype(float))

    def add_rows(self, A: sp.spmatrix, lo: np.ndarray, hi: np.ndarray) -> None:
        """Append rows (e.g. outer-approximation cuts) to the live model."""
        R = sp.csr_matrix(A)
        R.sort_indices()
        self.h.addRows(R.shape[0], np.asarray(lo, float), np.asarray(hi, float), R.nnz,
                       R.indptr[:-1].astype(np.int32), R.indices.astype(np.int32), R.data.astype(float))
        self.n_extra_rows += R.shape[0]

    def set_bounds(self, cols: np.ndarray, lb: np.ndarray, ub: np.ndarray) -> None:
        cols = np.asarray(cols, dtype=np.int32)
        self.h.changeColsBounds(len(cols), cols, np.asarray(lb, float), np.asarray(ub, float))

    def set_start(self, x: np.ndarray) -> None:
        """Give HiGHS a (feasible) starting solution, e.g. the uncoordinated plan."""
        sol = highspy.HighsSolution()
        sol.col_value = list(np.asarray(x, dtype=float))
        sol.value_valid = True
        self.h.setSolution(sol)

    def solve(self, *, time_limit: float | None = None, mip_rel_gap: float | None = None) -> Solution:
        if time_limit is not None:
            self.h.setOptionValue("time_limit", float(time_limit))
        if mip_rel_gap is not None:
            self.h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
        t0 = time.perf_counter()
        self.h.run()
        dt = time.perf_counter() - t0
        ms = self.h.getModelStatus()
        name = str(ms).split(".")[-1]
        status = _STATUS.get(name, "error")
        info = self.h.getInfo()
        sol = self.h.getSolution()
        is_mip = self.prog.is_mip()
        x = np.asarray(sol.col_value, dtype=float) if sol.value_valid else np.full(self.prog.n, np.nan)
        if status == "time_limit" and sol.value_valid:
            status = "feasible"
        duals = None
        if not is_mip and sol.dual_valid:
            duals = np.asarray(sol.row_dual, dtype=float)
        obj = float(info.objective_function_value) if sol.value_valid else float("nan")
        bound = float(info.mip_dual_bound) if is_mip else (obj if status == "optimal" else None)
        gap = float(info.mip_gap) if is_mip else 0.0
        return Solution(status=status, objective=obj, x=x, row_duals=duals, bound=bound, gap=gap,
                        solver="highs", time_s=dt, program=self.prog,
                        info={"model_status": name, "n_extra_rows": self.n_extra_rows})


def solve_highs(prog: Program, *, time_limit: float | None = None, mip_rel_gap: float | None = None,
                threads: int | None = None, verbose: bool = False) -> Solution:
    """Solve ``prog`` once with HiGHS."""
    return HighsSolver(prog, threads=threads, verbose=verbose).solve(time_limit=time_limit, mip_rel_gap=mip_rel_gap)
