"""Clarabel backend (continuous LP / QP / SOCP) for the canonical program.

Maps ``lo <= A x <= hi`` rows, variable bounds and second-order cones of a
:class:`~tenflow.solve.program.Program` to Clarabel's ``A x + s = b, s in K`` form. Integer
variables are rejected (Clarabel is continuous): fix or relax them first.
Row duals follow the convention of :mod:`tenflow.solve.highs` (``d objective / d active bound``).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from tenflow.errors import SolverError
from tenflow.solve.program import Program, Solution

try:  # pragma: no cover - import guard
    import clarabel
except ImportError:  # pragma: no cover
    clarabel = None  # type: ignore[assignment]


def solve_clarabel(prog: Program, *, relax_integers: bool = False, verbose: bool = False,
                   tol: float = 1e-9, max_iter: int = 200) -> Solution:
    """Solve ``prog`` with Clarabel; returns primal values and row duals."""
    if clarabel is None:  # pragma: no cover
        raise SolverError("clarabel is not installed")
    if prog.is_mip() and not relax_integers:
        raise SolverError(f"program '{prog.name}' has integer variables; Clarabel is continuous")
    n = prog.n
    A = sp.csr_matrix(prog.A)
    lo, hi = prog.row_lo, prog.row_hi
    eq = np.isfinite(lo) & np.isfinite(hi) & (lo == hi)
    ge = np.isfinite(lo) & ~eq
    le = np.isfinite(hi) & ~eq
    lb, ub = prog.lb, prog.ub
    eye = sp.identity(n, format="csr")
    vlo = np.isfinite(lb)
    vhi = np.isfinite(ub)
    fixed = vlo & vhi & (lb == ub)
    blocks_A = [A[eq], eye[fixed], -A[ge], -eye[vlo & ~fixed], A[le], eye[vhi & ~fixed]]
    blocks_b = [lo[eq], lb[fixed], -lo[ge], -lb[vlo & ~fixed], hi[le], ub[vhi & ~fixed]]
    n_zero = int(eq.sum() + fixed.sum())
    n_nonneg = int(ge.sum() + (vlo & ~fixed).sum() + le.sum() + (vhi & ~fixed).sum())
    cone_specs = []
    for cone in prog.cones:
        if cone.rotated:
            u, v = cone.F[0], cone.F[1]
            cu, cv = cone.c[0], cone.c[1]
            t_row = u + v
            d_row = u - v
            rows = sp.vstack([t_row, d_row, np.sqrt(2.0) * cone.G]).tocsr()
            rhs = np.concatenate([[cu + cv, cu - cv], np.sqrt(2.0) * cone.g])
        else:
            rows = sp.vstack([cone.F, cone.G]).tocsr()
            rhs = np.concatenate([cone.c, cone.g])
        # s = rhs + rows x  in SOC  <=>  (-rows) x + s = rhs
        blocks_A.append(-rows)
        blocks_b.append(rhs)
        cone_specs.append(rows.shape[0])
    Ac = sp.vstack(blocks_A, format="csc") if blocks_A else sp.csc_matrix((0, n))
    b = np.concatenate(blocks_b) if blocks_b else np.zeros(0)
    cones = []
    if n_zero:
        cones.append(clarabel.ZeroConeT(n_zero))
    if n_nonneg:
        cones.append(clarabel.NonnegativeConeT(n_nonneg))
    cones.extend(clarabel.SecondOrderConeT(d) for d in cone_specs)
    P = prog.P
    Pc = sp.triu(P, format="csc") if P is not None else sp.csc_matrix((n, n))
    q = prog.c * (-1.0 if prog.sense == "max" else 1.0)
    if prog.sense == "max" and P is not None:
        raise SolverError("quadratic maximisation is not supported")
    settings = clarabel.DefaultSettings()
    settings.verbose = verbose
    settings.tol_gap_abs = tol
    settings.tol_gap_rel = tol
    settings.tol_feas = tol
    settings.max_iter = max_iter
    t0 = time.perf_counter()
    solver = clarabel.DefaultSolver(Pc, q, Ac, b, cones, settings)
    res = solver.solve()
    dt = time.perf_counter() - t0
    st = str(res.status)
    if "AlmostSolved" in st:
        status = "optimal"
    elif "Solved" in st:
        status = "optimal"
    elif "PrimalInfeasible" in st:
        status = "infeasible"
    elif "DualInfeasible" in st:
        status = "unbounded"
    else:
        status = "error"
    x = np.asarray(res.x, dtype=float)
    z = np.asarray(res.z, dtype=float)
    # duals of the linear rows: d obj / d b = -z for rows written as A x + s = b
    m = prog.m
    duals = np.zeros(m)
    k = 0
    idx_eq = np.flatnonzero(eq)
    duals[idx_eq] = -z[k:k + len(idx_eq)]
    k += len(idx_eq) + int(fixed.sum())
    idx_ge = np.flatnonzero(ge)
    duals[idx_ge] += z[k:k + len(idx_ge)]  # b = -lo  =>  d obj / d lo = +z
    k += len(idx_ge) + int((vlo & ~fixed).sum())
    idx_le = np.flatnonzero(le)
    duals[idx_le] -= z[k:k + len(idx_le)]
    sign = -1.0 if prog.sense == "max" else 1.0
    obj = sign * float(res.obj_val) + prog.const if status == "optimal" else float("nan")
    return Solution(status=status, objective=obj, x=x, row_duals=sign * duals, bound=obj, gap=0.0,
                    solver="clarabel", time_s=dt, program=prog,
                    info={"clarabel_status": st, "iterations": int(res.iterations)})
