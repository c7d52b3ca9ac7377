"""Optional exact backend: Gurobi via gurobipy (extra ``gurobi``), incl. non-convex quadratic objectives.

:func:`solve_gurobi` mirrors :func:`tenflow.solve.scip_backend.solve_scip` (tenflow issue 4, item 3): it
translates a canonical :class:`~tenflow.solve.program.Program` (bounds, integrality, linear rows
``lo <= A x <= hi``, standard/rotated second-order cones, convex objective ``c^T x + 1/2 x^T P x + const``)
and optionally an extra, possibly **non-convex**, quadratic objective ``x^T Q x`` (``NonConvex = 2``) with the
gurobipy matrix API (``addMVar`` / ``addMConstr`` / vectorised ``MQuadExpr`` constraints; no per-element
Python loops: one call per group of cones of equal dimension).

Second-order cones are stated in the form Gurobi recognises as conic (stack.md, design consequence 2):
``y^T y <= t^2`` (standard) or ``y^T y <= 2 u v`` with ``u, v >= 0`` (rotated), where the entries of ``y``
are variables of the program (scaled) when a cone row is a single ``a x_j``, and ``t``/``u``/``v`` are such
variables or constants when possible; other rows get auxiliary columns (``y = G x + g`` free,
``t = f^T x + c >= 0``) so that the restricted licence fits as many programs as possible.

Row duals (continuous programs only) follow the HiGHS/Clarabel convention of :mod:`tenflow.solve`:
``d objective / d active row bound`` (Gurobi's ``Pi`` for a minimisation; for a range row the sum of the
multipliers of its two sides).

Licence: the pip wheel ships a restricted licence (about 2000 variables/constraints, 200 when quadratic);
a model beyond it raises :class:`tenflow.SolverError` naming the sizes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from tenflow.errors import SolverError
from tenflow.solve.program import Program, Solution

Array = np.ndarray

_SIZE_LIMIT_CODE = 10010  # GRB_ERROR_SIZE_LIMIT_EXCEEDED


def _gurobipy() -> Any:
    try:
        import gurobipy
    except ImportError as exc:  # pragma: no cover - optional extra
        raise SolverError("gurobipy is not installed: pip install 'tenflow[gurobi]' (a Gurobi licence is needed "
                          "beyond the restricted size of the pip wheel)") from exc
    return gurobipy


@dataclass
class _ConeGroup:
    """Cones of one shape: ``sum_j W[i, j] xa[Y[i, j]]^2 <= rhs_i`` with ``rhs`` from ``T`` (see ``_cone_aux``)."""

    rotated: bool
    kinds: tuple[bool, ...]  # per F row: True = variable (``B * xa[T]``), False = constant ``C``
    Y: Array
    W: Array
    T: Array
    B: Array
    C: Array


def _cone_aux(prog: Program) -> tuple[sp.csr_matrix, Array, Array, list[_ConeGroup]]:
    """Express the cones over ``xa = [x; aux]`` with as few auxiliary columns as possible.

    A cone row ``G_r x + g_r`` that is a single ``a x_j`` (``g_r = 0``) is used directly (weight ``a^2``), an
    ``F`` row that is a constant ``c >= 0`` stays a constant, one that is ``b x_j`` (``b > 0``, ``c = 0``,
    ``x_j >= 0``) is used directly; every other row gets an auxiliary column defined by ``M @ xa == rhs``
    (free for ``G`` rows, ``>= 0`` for ``F`` rows). Returns ``(M, rhs, aux_lb, groups)``.
    """
    n = prog.n
    if not prog.cones:
        return sp.csr_matrix((0, n)), np.zeros(0), np.zeros(0), []
    lbx = prog.lb
    G = sp.vstack([cn.G for cn in prog.cones], format="csr")
    F = sp.vstack([cn.F for cn in prog.cones], format="csr")
    G = sp.csr_matrix((G.data, G.indices, G.indptr), shape=(G.shape[0], n))
    F = sp.csr_matrix((F.data, F.indices, F.indptr), shape=(F.shape[0], n))
    g = np.concatenate([np.asarray(cn.g, dtype=float) for cn in prog.cones])
    c = np.concatenate([np.asarray(cn.c, dtype=float) for cn in prog.cones])
    gnz, fnz = np.diff(G.indptr), np.diff(F.indptr)
    gfirst = np.minimum(G.indptr[:-1], max(G.nnz - 1, 0))
    ffirst = np.minimum(F.indptr[:-1], max(F.nnz - 1, 0))
    gcol = G.indices[gfirst] if G.nnz else np.zeros(G.shape[0], dtype=int)
    gval = G.data[gfirst] if G.nnz else np.zeros(G.shape[0])
    fcol = F.indices[ffirst] if F.nnz else np.zeros(F.shape[0], dtype=int)
    fval = F.data[ffirst] if F.nnz else np.zeros(F.shape[0])
    g_direct = (gnz == 1) & (g == 0)
    f_const = (fnz == 0) & (c >= 0)
    f_direct = (fnz == 1) & (c == 0) & (fval > 0) & (lbx[fcol] >= 0)
    g_aux = np.flatnonzero(~g_direct)
    f_aux = np.flatnonzero(~(f_const | f_direct))
    k = g_aux.size + f_aux.size
    # xa index and weight of every G row / F row
    ycol = np.where(g_direct, gcol, 0)
    ycol[g_aux] = n + np.arange(g_aux.size)
    yw = np.where(g_direct, gval**2, 1.0)
    tcol = np.where(f_direct, fcol, 0)
    tcol[f_aux] = n + g_aux.size + np.arange(f_aux.size)
    tb = np.where(f_direct, fval, 1.0)
    is_var = ~f_const
    Baux = sp.vstack([G[g_aux], F[f_aux]], format="csr")
    M = sp.hstack([Baux, -sp.identity(k, format="csr")], format="csr")
    rhs = np.concatenate([-g[g_aux], -c[f_aux]])
    aux_lb = np.concatenate([np.full(g_aux.size, -np.inf), np.zeros(f_aux.size)])
    groups: dict[tuple[bool, int, tuple[bool, ...]], list[tuple[Array, Array]]] = {}
    gs = fs = 0
    for cn in prog.cones:  # one pass over the cone list to group equal shapes (arrays are built per group)
        d, nt = cn.G.shape[0], cn.F.shape[0]
        key = (cn.rotated, d, tuple(bool(v) for v in is_var[fs:fs + nt]))
        groups.setdefault(key, []).append((np.arange(gs, gs + d), np.arange(fs, fs + nt)))
        gs += d
        fs += nt
    out = []
    for (rot, _d, kinds), members in groups.items():
        Yr = np.vstack([mm[0] for mm in members])
        Tr = np.vstack([mm[1] for mm in members])
        out.append(_ConeGroup(rot, kinds, ycol[Yr], yw[Yr], tcol[Tr], tb[Tr], c[Tr]))
    return M, rhs, aux_lb, out


def _add_cones(m: Any, xa: Any, groups: list[_ConeGroup]) -> None:
    """Add each group's quadratic constraints in one vectorised call (SOC / rotated SOC / convex form)."""
    for grp in groups:
        lhs = (xa[grp.Y] * xa[grp.Y] * grp.W).sum(axis=1)
        if not grp.rotated:
            if grp.kinds[0]:
                t = xa[grp.T[:, 0]]
                m.addConstr(lhs - (t * t) * grp.B[:, 0] ** 2 <= 0)
            else:
                m.addConstr(lhs <= grp.C[:, 0] ** 2)
            continue
        u_var, v_var = grp.kinds
        if u_var and v_var:
            m.addConstr(lhs - (xa[grp.T[:, 0]] * xa[grp.T[:, 1]]) * (2.0 * grp.B[:, 0] * grp.B[:, 1]) <= 0)
        elif u_var or v_var:
            iv, ic = (0, 1) if u_var else (1, 0)
            m.addConstr(lhs - xa[grp.T[:, iv]] * (2.0 * grp.B[:, iv] * grp.C[:, ic]) <= 0)
        else:
            m.addConstr(lhs <= 2.0 * grp.C[:, 0] * grp.C[:, 1])


def solve_gurobi(prog: Program, *, extra_quadratic: sp.spmatrix | None = None, gap: float = 1e-4,
                 time_limit: float | None = None, threads: int | None = None, verbose: bool = False,
                 params: dict[str, Any] | None = None) -> Solution:
    """Solve ``prog`` (+ ``x^T Q x`` with ``Q = extra_quadratic``, any sign) with Gurobi.

    Parameters
    ----------
    prog : Program
        Canonical program (minimisation).
    extra_quadratic : sparse matrix, optional
        ``Q`` (n x n) of an extra objective term ``x^T Q x``, possibly indefinite (solved globally with
        ``NonConvex = 2``), as in :func:`tenflow.solve.scip_backend.solve_scip`.
    gap : float
        Relative MIP gap (``MIPGap``).
    time_limit, threads, verbose, params
        ``TimeLimit`` [s], ``Threads``, solver log, further Gurobi parameters by name.

    Returns
    -------
    Solution
        ``status`` in optimal/feasible (time limit with incumbent)/infeasible/unbounded/time_limit/error,
        objective (incl. ``prog.const``), ``bound`` (Gurobi's ``ObjBound`` for MIP/non-convex programs,
        the objective otherwise), ``gap`` and, for continuous convex programs, ``row_duals``
        (``d objective / d active row bound``).

    Raises
    ------
    SolverError
        gurobipy missing, no licence, or the model exceeds the licence's size limits.
    """
    gp = _gurobipy()
    GRB = gp.GRB
    n = prog.n
    lb, ub, integ = prog.lb, prog.ub, prog.integrality
    A = sp.csr_matrix(prog.A)
    lo, hi = prog.row_lo, prog.row_hi
    Mc, rc, lba, groups = _cone_aux(prog)
    k = Mc.shape[0]
    continuous = not integ.any() and extra_quadratic is None
    try:
        env = gp.Env(empty=True)
        env.setParam("OutputFlag", 1 if verbose else 0)
        env.start()
    except gp.GurobiError as exc:
        raise SolverError(f"Gurobi licence/environment error: {exc}") from exc
    m = gp.Model(prog.name, env=env)
    try:
        m.Params.MIPGap = gap
        if time_limit is not None:
            m.Params.TimeLimit = float(time_limit)
        if threads is not None:
            m.Params.Threads = int(threads)
        if extra_quadratic is not None:
            m.Params.NonConvex = 2
        if continuous and groups:
            m.Params.QCPDual = 1
        for key, val in (params or {}).items():
            m.setParam(key, val)
        vtype = np.where(integ, GRB.INTEGER, GRB.CONTINUOUS)
        xa = m.addMVar(n + k, lb=np.r_[lb, lba], ub=np.r_[ub, np.full(k, np.inf)],
                       vtype=np.r_[vtype, np.full(k, GRB.CONTINUOUS)], name="x")
        x = xa[:n]
        # linear rows: equalities, one-sided, and ranges (two Gurobi rows, duals summed)
        fl, fh = np.isfinite(lo), np.isfinite(hi)
        eq = fl & fh & (lo == hi)
        ge = fl & ~eq
        le = fh & ~eq
        blocks: list[tuple[Array, Any]] = []
        for sel, sense, rhs in ((eq, GRB.EQUAL, lo), (ge, GRB.GREATER_EQUAL, lo), (le, GRB.LESS_EQUAL, hi)):
            idx = np.flatnonzero(sel)
            if idx.size:
                blocks.append((idx, m.addMConstr(A[idx], x, sense, rhs[idx])))
        if k:
            m.addMConstr(Mc, xa, GRB.EQUAL, rc)
        _add_cones(m, xa, groups)
        Q = sp.csr_matrix((n, n))
        if prog.P is not None:
            Q = Q + 0.5 * sp.csr_matrix(prog.P)
        if extra_quadratic is not None:
            Q = Q + sp.csr_matrix(extra_quadratic)
        c = prog.c
        if Q.nnz:
            m.setMObjective(sp.csr_matrix(Q), c, prog.const, xQ_L=x, xQ_R=x, xc=x, sense=GRB.MINIMIZE)
        else:
            m.setMObjective(None, c, prog.const, xc=x, sense=GRB.MINIMIZE)
        t0 = time.perf_counter()
        m.optimize()
        if m.Status == GRB.INF_OR_UNBD:
            m.Params.DualReductions = 0
            m.optimize()
        dt = time.perf_counter() - t0
    except gp.GurobiError as exc:
        m.dispose()
        env.dispose()
        size = prog.size_summary()
        if getattr(exc, "errno", None) == _SIZE_LIMIT_CODE:
            raise SolverError(
                f"Gurobi licence refuses the model size ({size['variables']} variables + {k} cone auxiliaries, "
                f"{size['rows']} rows, {size['cones']} cones): the pip wheel's restricted licence allows about "
                f"2000 variables/constraints (200 with quadratic terms); install a full licence") from exc
        raise SolverError(f"Gurobi error on '{prog.name}': {exc}") from exc
    try:
        st = int(m.Status)
        names = {GRB.OPTIMAL: "optimal", GRB.INFEASIBLE: "infeasible", GRB.UNBOUNDED: "unbounded",
                 GRB.TIME_LIMIT: "time_limit", GRB.SUBOPTIMAL: "feasible"}
        status = names.get(st, "error")
        info: dict[str, Any] = {"gurobi_status": st}
        if m.SolCount == 0 or status in ("infeasible", "unbounded"):
            return Solution(status=status if status != "optimal" else "error", objective=float("nan"),
                            x=np.full(n, np.nan), solver="gurobi", time_s=dt, program=prog, info=info)
        if status == "time_limit" or (status == "error" and m.SolCount > 0):
            status = "feasible"
        xs = np.asarray(xa.X)[:n].copy()
        objv = float(m.ObjVal)
        if m.IsMIP or extra_quadratic is not None:
            bound = float(m.ObjBound)
            gp_gap = float(m.MIPGap) if m.IsMIP else abs(objv - bound) / max(abs(objv), 1e-10)
            info["nodes"] = int(m.NodeCount)
        else:
            bound, gp_gap = objv, 0.0
        duals = None
        if continuous and status == "optimal":
            duals = np.zeros(prog.m)
            for idx, cons in blocks:
                np.add.at(duals, idx, np.asarray(cons.Pi))
        return Solution(status=status, objective=objv, x=xs, row_duals=duals, bound=bound, gap=gp_gap,
                        solver="gurobi", time_s=dt, program=prog, info=info)
    finally:
        m.dispose()
        env.dispose()
