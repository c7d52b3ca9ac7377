"""Standalone multi-period IV-AC optimal power flow (omtepf.md §3.6–3.8, §3.10, §5.3).

:func:`build_opf` lists the blocks (like PowerModels' ``build_opf_iv``); :func:`solve` runs it with
Clarabel and handles the demand revenue (the only non-convex term) by the convex–concave procedure
(§3.10 option 2) or exactly with SCIP (option 1). :func:`scan_opf` is the global reference for
single-generator networks (§3.10 option 4). :func:`bus_prices` returns locational marginal prices per
unit of active power (mess.md §5.3).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tenflow.errors import CaseError, InfeasibleError, SolverError
from tenflow.formulations import ivacopf as iv
from tenflow.formulations.grid_data import GridData, grid_from_case
from tenflow.solve.clarabel_backend import ClarabelSolver
from tenflow.solve.program import Program

Array = np.ndarray


# ---------------------------------------------------------------------------------------------- build
def build_opf(grid: GridData, steps: Sequence[int] | Array | None = None, *, revenue: str = "tangent",
              v_hat: Array | None = None) -> tuple[Program, iv.IVNetwork]:
    """The multi-period IV-ACOPF program: min ``sum_k C_G[k] - R_D[k]`` (eq. 61–65) subject to

    * KCL real/imag per bus and step, Ohm's law and admittance loads eliminated (eq. 47–54),
    * generator current box and quartic cost via rotated-cone epigraphs (eq. 62, §3.10),
    * ``|V| <= vmax`` (SOC, eq. 56), secant ``Vr >= vmin cos theta`` (eq. 57), ``Vi_ref = 0`` (eq. 55),
    * one-way lines ``Re I_f >= 0`` and optional line current limits (§3.6 items 5–6),
    * demand revenue tangent at ``v_hat`` (§3.10 option 2) or none.
    """
    prog = Program(f"opf:{grid.name}")
    net = iv.add_iv_network(prog, grid, steps, revenue=revenue, v_hat=v_hat)
    return prog, net


# ---------------------------------------------------------------------------------------------- results
@dataclass
class OPFResult:
    """Solution of a multi-period OPF. Arrays are ``(S, ·)`` over the solved step positions ``steps``.

    ``objective`` is the TRUE objective ``sum C_G - R_D`` (exact quartic cost and exact revenue; ``C_G`` only
    when solved with ``revenue="none"``), also per step in ``objective_steps``; ``lam`` are the complex KCL duals of the final convex (sub)problem
    (``d objective / d withdrawn current``), ``lmp`` the price per unit of active power.
    """

    grid: GridData
    steps: Array
    V: Array
    Ig: Array
    lam: Array
    lmp: Array
    objective: float
    objective_steps: Array
    method: str
    iterations: int
    status: str = "optimal"
    solver: str = "clarabel"
    build_s: float = 0.0
    solve_s: float = 0.0
    history: list[float] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def step_labels(self) -> pd.Index:
        return self.grid.steps[self.steps]

    def line_currents(self) -> tuple[Array, Array]:
        """Complex currents at the from and to ends ``(S, L)`` (pi model)."""
        yff, yft, ytf, ytt = self.grid.line_admittances()
        Vf, Vt = self.V[:, self.grid.line_from], self.V[:, self.grid.line_to]
        return yff * Vf + yft * Vt, ytf * Vf + ytt * Vt

    def load_currents(self) -> Array:
        g = self.grid
        Y = (g.load_G + 1j * g.load_B)[self.steps]
        return Y * self.V[:, g.load_bus]

    def kcl_residual(self) -> float:
        """Max |KCL mismatch| with the complex bus admittance matrix (independent of the real split)."""
        g = self.grid
        Yl = g.ybus_lines()
        Yd = g.load_admittance()[self.steps]
        out = np.asarray(Yl @ self.V.T).T + Yd * self.V
        inj = g.fixed_injection()[self.steps].copy()
        np.add.at(inj.T, g.gen_bus, self.Ig.T)
        return float(np.max(np.abs(out - inj)))


# ---------------------------------------------------------------------------------------------- solve
def _as_grid(case_or_grid: Any) -> GridData:
    if isinstance(case_or_grid, GridData):
        return case_or_grid.validate()
    if isinstance(case_or_grid, (str, Path)):
        return load_grid(case_or_grid)
    return grid_from_case(case_or_grid)


def load_grid(name_or_path: str | Path, **kwargs: Any) -> GridData:
    """A grid from a built-in case name, a case folder, or a pandapower feeder name (``case33bw``,
    ``cigre-mv``; :mod:`tenflow.case.pandapower_import`)."""
    from tenflow.case import pandapower_import as ppi

    if isinstance(name_or_path, str) and name_or_path in ppi.FEEDERS:
        return ppi.FEEDERS[name_or_path](**kwargs)
    import tenflow

    folder = tenflow.cases.resolve(name_or_path)
    return grid_from_case(tenflow.load_case(folder))


def solve(case_or_grid: Any, *, steps: Sequence[int] | Array | None = None, revenue: str | None = None,
          starts: Sequence[float] = (1.0,), max_iter: int = 50, rtol: float = 1e-9, tol: float = 1e-9,
          diagnose: bool = True) -> OPFResult:
    """Solve the multi-period IV-ACOPF of a case, a :class:`GridData`, or a built-in/feeder name.

    Parameters
    ----------
    case_or_grid
        :class:`tenflow.case.Case`, :class:`GridData`, built-in case name / folder, or ``"case33bw"`` /
        ``"cigre-mv"``.
    steps
        Step positions to solve (default all). Steps are independent (no inter-temporal coupling).
    revenue
        ``None`` (default): the case's ``options.revenue_mode`` for a :class:`~tenflow.case.Case`, else ``"ccp"``.
        ``"ccp"``: convex–concave procedure (§3.10 option 2) — each iteration re-linearises the
        demand revenue at the previous voltages and solves the convex conic program with Clarabel, until the
        true objective stops decreasing (relative change ``< rtol``); ``"tangent"``: one convex solve with the
        tangent at flat voltage; ``"exact"``: non-convex global solve with SCIP (option 1, needs
        ``pyscipopt``), prices from a final convex iteration at the SCIP optimum; ``"none"``: no demand
        revenue in the objective (convex, exact).
    starts
        Flat linearisation voltages of the CCP; with several, each step keeps its best true objective and a
        final CCP run starts from that combination (steps are separable).
    max_iter, rtol, tol
        CCP iteration limit, per-step stopping tolerance (relative change of a step's true objective), solver
        tolerance. ``iterations`` counts convex solves (full or of the still-moving steps only); the duals of
        each step are those of its last convex subproblem.
    diagnose
        On infeasibility, solve steps separately and relax the voltage bounds to name the infeasible steps
        and binding buses in the raised :class:`InfeasibleError`.
    """
    if revenue is None:
        opts = getattr(case_or_grid, "options", None)
        revenue = str(opts.get("revenue_mode", "ccp")) if isinstance(opts, dict) else "ccp"
    grid = _as_grid(case_or_grid)
    st = np.arange(grid.K) if steps is None else np.asarray(steps, dtype=int)
    if revenue not in ("ccp", "tangent", "exact", "none"):
        raise CaseError(f"revenue must be one of ccp, tangent, exact, none (got {revenue!r})", field="revenue")
    if revenue == "exact":
        from tenflow.solve.scip_backend import solve_opf_exact

        return solve_opf_exact(grid, st)
    t0 = time.perf_counter()
    prog, net = build_opf(grid, st, revenue="none" if revenue == "none" else "tangent",
                          v_hat=np.full((len(st), grid.n_bus), complex(starts[0])))
    session = ClarabelSolver(prog, tol=tol)
    build_s = time.perf_counter() - t0
    solve_s = 0.0
    history: list[float] = []
    iterations = 0

    S, N = len(st), grid.n_bus

    def run(p: Program, n: iv.IVNetwork, sess: ClarabelSolver, v_hat: Array) -> tuple[Array, Array, Array, Array]:
        """One convex (tangent) solve of the program ``p`` (all steps, or a subset of still-moving steps)."""
        nonlocal solve_s, iterations
        iv.update_revenue_tangent(p, n, v_hat)
        t1 = time.perf_counter()
        sol = sess.solve()
        solve_s += time.perf_counter() - t1
        iterations += 1
        if sol.status != "optimal":
            if sol.status in ("infeasible", "error") and diagnose:
                err = diagnose_infeasibility(grid, n.steps)
                if err is not None:
                    raise err
            if sol.status == "infeasible":
                raise InfeasibleError(f"OPF of '{grid.name}' is infeasible")
            raise SolverError(f"Clarabel returned status '{sol.status}' ({sol.info.get('clarabel_status')}) "
                              f"for the OPF of '{grid.name}'")
        V = n.voltages(sol.x)
        Ig = n.gen_currents(sol.x)
        if revenue == "none":
            per = iv.generator_cost(grid, Ig).sum(axis=1)
        else:
            per = iv.true_objective(grid, V, Ig, n.steps)
        lam = n.kcl_duals(sol.row_duals) if sol.row_duals is not None else np.full(V.shape, np.nan)
        return V, Ig, per, lam

    def ccp(v0: Array) -> tuple[Array, Array, Array, Array]:
        """Convex–concave iterations. Steps are independent: after the second full solve, the steps whose true
        objective still moves (> rtol (1 + |obj|)) are iterated alone in a smaller program built once."""
        nonlocal build_s
        V, Ig, per, lam = run(prog, net, session, v0)
        history.append(float(per.sum()))
        if revenue != "ccp" or net.revenue_slot is None:
            return V, Ig, per, lam
        idx = np.arange(S)
        p, n, sess = prog, net, session
        for _ in range(max_iter - 1):
            Va, Iga, pera, lama = run(p, n, sess, V[idx])
            moving = np.abs(per[idx] - pera) > rtol * (1.0 + np.abs(per[idx]))
            V[idx], Ig[idx], per[idx], lam[idx] = Va, Iga, pera, lama
            history.append(float(per.sum()))
            if not moving.any():
                break
            if len(idx) == S and moving.sum() <= S // 2:
                idx = idx[moving]
                t1 = time.perf_counter()
                p, n = build_opf(grid, st[idx], revenue="tangent", v_hat=V[idx])
                sess = ClarabelSolver(p, tol=tol)
                build_s += time.perf_counter() - t1
        return V, Ig, per, lam

    best = None
    for s0 in starts:
        res = ccp(np.full((S, N), complex(s0)))
        if best is None:
            best = res
        else:
            better = res[2] < best[2] - 1e-12
            if np.any(better):
                # restart from the per-step best point: its iterations supply consistent duals
                best = ccp(np.where(better[:, None], res[0], best[0]))
    assert best is not None
    V, Ig, per, lam = best
    return OPFResult(grid=grid, steps=st, V=V, Ig=Ig, lam=lam, lmp=iv.bus_lmp(V, lam), objective=float(per.sum()),
                     objective_steps=per, method=revenue, iterations=iterations, build_s=build_s, solve_s=solve_s,
                     history=history, info={"program": prog.size_summary()})


def bus_prices(case_or_grid: Any, **kwargs: Any) -> pd.DataFrame:
    """Locational marginal prices per unit of active power, tidy ``(bus, step, lmp)`` (mess.md §5.3).

    Runs :func:`solve` (keyword arguments are passed on) and converts the KCL duals:
    ``LMP_n = (lambda^r_n Vr_n + lambda^i_n Vi_n) / |V_n|^2``.
    """
    res = case_or_grid if isinstance(case_or_grid, OPFResult) else solve(case_or_grid, **kwargs)
    g = res.grid
    S, N = res.lmp.shape
    return pd.DataFrame({"bus": np.tile(np.asarray(g.buses), S), "step": np.repeat(np.asarray(res.step_labels), N),
                         "lmp": res.lmp.ravel()})


# ---------------------------------------------------------------------------------------------- diagnosis
def diagnose_infeasibility(grid: GridData, steps: Array) -> InfeasibleError | None:
    """Name the infeasible steps (solved separately) and the buses whose voltage bounds must be relaxed.

    For each infeasible step a relaxed problem with slacks ``sigma_n >= 0`` on the voltage bounds
    (``|V_n| <= vmax_n + sigma_n``, ``Vr_n >= vmin_n cos theta - sigma_n``) minimises ``sum sigma``;
    buses with positive slack are reported. Returns ``None`` when every step is feasible alone.
    """
    details: list[str] = []
    bad_steps = []
    for s in steps:
        prog, _ = build_opf(grid, [s], revenue="none")
        sol = ClarabelSolver(prog, tol=1e-8).solve()
        if sol.status != "optimal":
            bad_steps.append(int(s))
    if not bad_steps:
        return None
    for s in bad_steps:
        buses = _relaxed_voltage_buses(grid, s)
        label = grid.steps[s]
        if buses is None:
            details.append(f"step {label}: infeasible even with relaxed voltage bounds (generator current box, "
                           "one-way lines or line limits)")
        else:
            txt = ", ".join(f"{b} ({kind} by {v:.4g} p.u.)" for b, kind, v in buses)
            details.append(f"step {label}: voltage bounds cannot be met at bus(es) {txt}")
    return InfeasibleError(f"OPF of '{grid.name}' is infeasible in {len(bad_steps)} of {len(steps)} steps: "
                           f"{[grid.steps[s] for s in bad_steps]}", details)


def _relaxed_voltage_buses(grid: GridData, s: int) -> list[tuple[Any, str, float]] | None:
    N = grid.n_bus
    relaxed = grid.with_options(vmin=np.zeros(N), vmax=np.full(N, 1e3))
    prog = Program("opf-relaxed")
    net = iv.add_iv_network(prog, relaxed, [s], revenue="none")
    # drop the generator cost: only the voltage slacks count
    prog._c.clear()
    prog._P.clear()
    prog.const = 0.0
    lo = grid.vmin * np.cos(np.deg2rad(grid.secant_theta_deg))
    sig_lo = prog.add_vars("sig_lo", N, lb=0.0)
    sig_hi = prog.add_vars("sig_hi", N, lb=0.0)
    prog.add_objective(sig_lo, 1.0)
    prog.add_objective(sig_hi, 1.0)
    V = net.V
    sel = sp.csr_matrix((np.ones(N), (np.arange(N), np.arange(N))), shape=(N, V.size))
    prog.add_rows("vlo", [(V, sel), (sig_lo, sp.identity(N))], lo=lo)
    for n in range(N):
        F = sp.csr_matrix(([1.0], ([0], [sig_hi.start + n])), shape=(1, prog.n))
        G = sp.csr_matrix(([1.0, 1.0], ([0, 1], [V.start + n, V.start + N + n])), shape=(2, prog.n))
        prog.add_soc("vhi", F, grid.vmax[n], G, 0.0)
    sol = ClarabelSolver(prog, tol=1e-8).solve()
    if sol.status != "optimal":
        return None
    out: list[tuple[Any, str, float]] = []
    lo_v, hi_v = sol["sig_lo"], sol["sig_hi"]
    for n in np.flatnonzero(lo_v > 1e-6).tolist():
        out.append((grid.buses[n], "below vmin", float(lo_v[n])))
    for n in np.flatnonzero(hi_v > 1e-6).tolist():
        out.append((grid.buses[n], "above vmax", float(hi_v[n])))
    return out


# ---------------------------------------------------------------------------------------------- 1-D scan
def scan_opf(grid: GridData, steps: Sequence[int] | Array | None = None, *, n_points: int = 2001,
             v_range: tuple[float, float] = (0.88, 1.1), refine_points: int = 2001,
             feas_tol: float = 1e-9) -> pd.DataFrame:
    """Exact global reference for single-generator networks (omtepf.md §3.10 option 4).

    With one generator at the reference bus each step has one degree of freedom, the generator voltage
    ``Vg`` (real). For every ``Vg`` on a grid of ``n_points`` in ``v_range`` the complex ``N x N`` system
    "KCL at every non-generator bus, ``V_g = Vg``" is solved (one LU, all points as right-hand sides),
    the generator current follows from KCL at its bus, and the point is kept when all constraints hold
    (``|V| <= vmax``, secant, one-way lines, generator box, line limits). The best feasible point is refined
    by a second scan of ``refine_points`` between its neighbours. Returns per step: ``v_gen``,
    ``objective`` (true ``C_G - R_D``), ``grid_step`` (final spacing), ``tol`` (largest objective change to
    a neighbouring fine point = grid tolerance), ``n_feasible``.
    """
    grid.validate()
    if grid.n_gen != 1 or grid.gen_bus[0] != grid.ref_bus:
        raise CaseError("the 1-D scan needs exactly one generator located at the reference bus", code="E-SCAN")
    st = np.arange(grid.K) if steps is None else np.asarray(steps, dtype=int)
    gb = int(grid.gen_bus[0])
    Yl = grid.ybus_lines().toarray()
    Yd = grid.load_admittance()
    inj_all = grid.fixed_injection()
    lo_r = grid.vmin * np.cos(np.deg2rad(grid.secant_theta_deg))
    rows = []
    for s in st:
        Y = Yl + np.diag(Yd[s])
        A = Y.copy()
        A[gb, :] = 0.0
        A[gb, gb] = 1.0
        inj = inj_all[s]

        x = np.linspace(v_range[0], v_range[1], n_points)
        feas, obj, _ = _scan_eval(grid, int(s), A, Y, inj, lo_r, x, feas_tol)
        if not feas.any():
            rows.append({"step": grid.steps[s], "v_gen": np.nan, "objective": np.nan, "grid_step": np.nan,
                         "tol": np.nan, "n_feasible": 0})
            continue
        i = int(np.argmin(np.where(feas, obj, np.inf)))
        a, b = x[max(i - 1, 0)], x[min(i + 1, n_points - 1)]
        xf = np.linspace(a, b, refine_points)
        ff, of, _ = _scan_eval(grid, int(s), A, Y, inj, lo_r, xf, feas_tol)
        of = np.where(ff, of, np.inf)
        j = int(np.argmin(of))
        nb = [of[jj] for jj in (j - 1, j + 1) if 0 <= jj < refine_points and np.isfinite(of[jj])]
        tol_obj = max((abs(v - of[j]) for v in nb), default=0.0)
        rows.append({"step": grid.steps[s], "v_gen": float(xf[j]), "objective": float(of[j]),
                     "grid_step": float(xf[1] - xf[0]), "tol": float(tol_obj), "n_feasible": int(feas.sum())})
    return pd.DataFrame(rows)


def _scan_eval(grid: GridData, s: int, A: Array, Y: Array, inj: Array, lo_r: Array, vg: Array,
               feas_tol: float) -> tuple[Array, Array, Array]:
    """Feasibility and true objective of the scan points ``vg`` of step position ``s`` (see scan_opf)."""
    gb = int(grid.gen_bus[0])
    yff, yft, ytf, ytt = grid.line_admittances()
    rhs = np.repeat(inj[:, None], len(vg), axis=1).astype(complex)
    rhs[gb, :] = vg
    V = np.linalg.solve(A, rhs).T  # (P, N): one LU, all points as right-hand sides
    Ig = (V @ Y[gb, :]) - inj[gb]
    feas = np.all(np.abs(V) <= grid.vmax + feas_tol, axis=1)
    feas &= np.all(V.real >= lo_r - feas_tol, axis=1)
    If = yff * V[:, grid.line_from] + yft * V[:, grid.line_to]
    It = ytf * V[:, grid.line_from] + ytt * V[:, grid.line_to]
    if np.any(grid.line_one_way):
        feas &= np.all(If.real[:, grid.line_one_way] >= -feas_tol, axis=1)
    lim = np.isfinite(grid.line_i_max)
    if np.any(lim):
        feas &= np.all(np.abs(If[:, lim]) <= grid.line_i_max[lim] + feas_tol, axis=1)
        feas &= np.all(np.abs(It[:, lim]) <= grid.line_i_max[lim] + feas_tol, axis=1)
    feas &= (Ig.real >= grid.gen_ir_min[0] - feas_tol) & (Ig.real <= grid.gen_ir_max[0] + feas_tol)
    feas &= (Ig.imag >= grid.gen_ii_min[0] - feas_tol) & (Ig.imag <= grid.gen_ii_max[0] + feas_tol)
    obj = iv.true_objective(grid, V, Ig[:, None], np.full(len(vg), s))
    return feas, obj, V


# ---------------------------------------------------------------------------------------------- fast conic path
