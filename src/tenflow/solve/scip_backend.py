"""Optional exact backend: SCIP via PySCIPOpt (extra ``scip``), incl. non-convex quadratic objectives.

:func:`solve_scip` translates a canonical :class:`~tenflow.solve.program.Program` (bounds, integrality,
linear rows, standard/rotated second-order cones, convex quadratic objective) and optionally an extra,
possibly **non-convex**, quadratic objective term; SCIP solves it to a proven gap by spatial branch and
bound. :func:`solve_opf_exact` is omtepf.md §3.10 option 1 for the standalone OPF: the demand revenue
``-R_D = -sum w_n |V_n|^2`` is kept exactly (non-convex), step by step.

Notes (stack.md): SCIP's bundled Ipopt may crash the process through the MPEC heuristic, so
``heuristics/mpec/freq = -1`` is always set. SCIP returns no reliable duals for non-convex programs;
:func:`solve_opf_exact` obtains prices from one convex tangent subproblem at the SCIP optimum.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from tenflow.errors import SolverError
from tenflow.solve.program import Program, Solution

Array = np.ndarray


def _pyscipopt() -> Any:
    try:
        import pyscipopt
    except ImportError as exc:  # pragma: no cover - optional extra
        raise SolverError("pyscipopt is not installed: pip install 'tenflow[scip]'") from exc
    return pyscipopt


def solve_scip(prog: Program, *, extra_quadratic: sp.spmatrix | None = None, gap: float = 1e-7,
               time_limit: float | None = None, verbose: bool = False,
               params: dict[str, Any] | None = None) -> Solution:
    """Solve ``prog`` (+ ``x^T Q x`` with ``Q = extra_quadratic``, any sign) with SCIP.

    Returns primal values, objective, SCIP's dual bound and gap; ``row_duals`` is ``None``.
    """
    ps = _pyscipopt()
    n = prog.n
    m = ps.Model(prog.name)
    if not verbose:
        m.hideOutput()
    m.setParam("heuristics/mpec/freq", -1)
    m.setParam("limits/gap", gap)
    if time_limit is not None:
        m.setParam("limits/time", float(time_limit))
    for k, v in (params or {}).items():
        m.setParam(k, v)
    lb, ub, integ = prog.lb, prog.ub, prog.integrality
    x = [m.addVar(name=f"x{i}", lb=None if not np.isfinite(lb[i]) else float(lb[i]),
                  ub=None if not np.isfinite(ub[i]) else float(ub[i]), vtype="I" if integ[i] else "C")
         for i in range(n)]
    A = sp.csr_matrix(prog.A)
    lo, hi = prog.row_lo, prog.row_hi

    def lin(row: sp.csr_matrix) -> Any:
        r = sp.csr_matrix(row)
        return ps.quicksum(float(v) * x[j] for j, v in zip(r.indices, r.data, strict=True))

    for i in range(prog.m):
        a, b = A.indptr[i], A.indptr[i + 1]
        expr = ps.quicksum(float(v) * x[j] for j, v in zip(A.indices[a:b], A.data[a:b], strict=True))
        if np.isfinite(lo[i]) and np.isfinite(hi[i]) and lo[i] == hi[i]:
            m.addCons(expr == float(lo[i]))
        else:
            if np.isfinite(lo[i]):
                m.addCons(expr >= float(lo[i]))
            if np.isfinite(hi[i]):
                m.addCons(expr <= float(hi[i]))
    for cone in prog.cones:
        F = sp.csr_matrix((cone.F.data, cone.F.indices, cone.F.indptr), shape=(cone.F.shape[0], n))
        G = sp.csr_matrix((cone.G.data, cone.G.indices, cone.G.indptr), shape=(cone.G.shape[0], n))
        sq = ps.quicksum((lin(G[r]) + float(cone.g[r])) * (lin(G[r]) + float(cone.g[r])) for r in range(G.shape[0]))
        if cone.rotated:
            u = lin(F[0]) + float(cone.c[0])
            v = lin(F[1]) + float(cone.c[1])
            m.addCons(u >= 0)
            m.addCons(v >= 0)
            m.addCons(sq <= 2 * u * v)
        else:
            t = lin(F[0]) + float(cone.c[0])
            m.addCons(t >= 0)
            m.addCons(sq <= t * t)
    c = prog.c
    obj = ps.quicksum(float(c[j]) * x[j] for j in np.flatnonzero(c))
    quad_terms = []
    P = prog.P
    if P is not None:
        Pc = sp.coo_matrix(P)
        quad_terms += [(0.5 * float(v), int(i), int(j)) for i, j, v in zip(Pc.row, Pc.col, Pc.data, strict=True)]
    if extra_quadratic is not None:
        Q = sp.coo_matrix(extra_quadratic)
        quad_terms += [(float(v), int(i), int(j)) for i, j, v in zip(Q.row, Q.col, Q.data, strict=True)]
    if quad_terms:
        eta = m.addVar(name="eta", lb=None, ub=None)
        m.addCons(eta >= ps.quicksum(v * x[i] * x[j] for v, i, j in quad_terms))
        obj = obj + eta
    m.setObjective(obj, "minimize")
    t0 = time.perf_counter()
    m.optimize()
    dt = time.perf_counter() - t0
    st = m.getStatus()
    status = {"optimal": "optimal", "infeasible": "infeasible", "unbounded": "unbounded",
              "timelimit": "time_limit", "gaplimit": "optimal"}.get(st, "error")
    if m.getNSols() == 0:
        return Solution(status=status if status != "optimal" else "error", objective=float("nan"), x=np.full(n, np.nan),
                        solver="scip", time_s=dt, program=prog, info={"scip_status": st})
    if status == "time_limit":
        status = "feasible"
    xs = np.array([m.getVal(v) for v in x])
    objv = float(m.getObjVal()) + prog.const
    bound = float(m.getDualbound()) + prog.const
    return Solution(status=status, objective=objv, x=xs, row_duals=None, bound=bound, gap=float(m.getGap()),
                    solver="scip", time_s=dt, program=prog, info={"scip_status": st, "nodes": int(m.getNNodes())})


def solve_opf_exact(grid: Any, steps: Sequence[int] | Array, *, gap: float = 1e-7,
                    time_limit: float | None = 60.0) -> Any:
    """Exact non-convex OPF (omtepf.md §3.10 option 1), one SCIP solve per step, prices from a convex
    tangent subproblem at the SCIP optimum (same optimum when SCIP's point is global).

    Returns a :class:`tenflow.problems.opf.OPFResult` with ``method = "exact"`` and ``info["gaps"]``.
    """
    from tenflow.errors import CaseError, InfeasibleError
    from tenflow.formulations import ivacopf as iv
    from tenflow.problems.opf import OPFResult, build_opf, diagnose_infeasibility
    from tenflow.solve.clarabel_backend import ClarabelSolver

    st = np.asarray(steps, dtype=int)
    q, w, gam = grid.revenue_coefficients()
    if np.any(q[st] != 0):
        raise CaseError("exact OPF supports only linear demand revenue in P and Q (alpha_P = alpha_Q = 0)",
                        field="alpha_p/alpha_q", code="E-REVENUE")
    N = grid.n_bus
    Vs, Is, gaps, solve_s = [], [], [], 0.0
    for s in st:
        prog, net = build_opf(grid, [s], revenue="none")
        d = np.concatenate([-w[s], -w[s]])  # -w |V|^2 on (Vr, Vi)
        cols = net.V.cols
        Q = sp.coo_matrix((d, (cols, cols)), shape=(prog.n, prog.n))
        prog.const -= float(gam[s].sum())
        sol = solve_scip(prog, extra_quadratic=Q, gap=gap, time_limit=time_limit)
        solve_s += sol.time_s
        if not sol.ok:
            if sol.status == "infeasible":
                err = diagnose_infeasibility(grid, np.array([s]))
                raise err if err is not None else InfeasibleError(f"step {grid.steps[s]} infeasible (SCIP)")
            raise SolverError(f"SCIP returned '{sol.status}' ({sol.info.get('scip_status')}) at step {grid.steps[s]}")
        Vs.append(net.voltages(sol.x)[0])
        Is.append(net.gen_currents(sol.x)[0])
        gaps.append(float(sol.gap or 0.0))
    V = np.array(Vs).reshape(len(st), N)
    Ig = np.array(Is).reshape(len(st), grid.n_gen)
    per = iv.true_objective(grid, V, Ig, st)
    prog, net = build_opf(grid, st, revenue="tangent", v_hat=V)
    conv = ClarabelSolver(prog).solve()
    lam = net.kcl_duals(conv.row_duals) if conv.ok and conv.row_duals is not None else np.full(V.shape, np.nan)
    return OPFResult(grid=grid, steps=st, V=V, Ig=Ig, lam=lam, lmp=iv.bus_lmp(V, lam), objective=float(per.sum()),
                     objective_steps=per, method="exact", iterations=len(st), solver="scip", solve_s=solve_s,
                     info={"gaps": gaps, "price_subproblem_objective": conv.objective})
