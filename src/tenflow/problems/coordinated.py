"""Coordinated OMTEPF: one mixed-integer convex program over all decisions (omtepf.md §3.9, eq. 67, §3.10).

The program (:func:`tenflow.problems.omtepf.build_coordinated`) has binary EV firings, linear transport /
SoC / KCL rows and second-order cones (voltage upper bounds, generator-cost epigraphs); the demand revenue,
the only non-convex term, is replaced by its tangent at a reference voltage ``v_hat`` (convex–concave
procedure, §3.10 option 2; a majoriser of the true objective). Default backend (§3.10 option 3):

1. **MILP outer approximation in HiGHS** — every cone ``||w(x)|| <= s(x)`` (rotated cones converted to
   standard form) is replaced by gradient cuts ``n^T w(x) <= s(x)``, ``n = w(x_0)/||w(x_0)||``, seeded at the
   warm start, on a tangent grid of the generator cost around it, and by a Kelley cutting-plane loop on the LP
   relaxation (interior point first: the coupled LP is hard for a cold dual simplex). The LP bound is a valid
   lower bound. An LP-guided fix-and-solve (binaries integral in the LP fixed; then all binaries of the EVs with
   a fractional one) usually closes the gap at once; otherwise the full MILP is solved warm-started
   (``HighsSolver.set_start``) and re-solved after adding cuts at its incumbent and at the polished point
   (``HighsSolver.add_rows``).
2. **Polish** — the binary decisions of the incumbent are fixed and the continuous conic rest is solved exactly
   with Clarabel; this gives a feasible point and the convex program's true value (upper bound).
3. **Certificate** — the MILP dual bound is a valid lower bound of the convex program (the cuts relax the
   cones), so ``gap = (UB - LB) / |UB|``; stop at ``gap <= rel_gap``.
4. **CCP refinement** — with the binaries fixed, the tangent is re-linearised at the polished voltages and
   the continuous problem re-solved until the *true* objective (exact revenue) stops improving.

The warm start is the uncoordinated solution, and ``v_hat`` defaults to its voltages: the uncoordinated plan is
then feasible for the program with objective equal to its true value, so the coordinated result is never worse
(omtepf.md §6.2 item 6). Optional backends ``"scip"`` / ``"gurobi"`` solve the same convex MI program exactly
with SCIP / Gurobi.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tenflow.case import Case
from tenflow.errors import InfeasibleError, SolverError
from tenflow.formulations import charging as CH
from tenflow.formulations import ivacopf as iv
from tenflow.formulations import transport as TR
from tenflow.problems.omtepf import CoordinatedModel, build_coordinated, gen_frame, voltage_frame
from tenflow.problems.omtepf_solution import OmtepfSolution
from tenflow.results.progress import status
from tenflow.solve.clarabel_backend import solve_clarabel
from tenflow.solve.highs import HighsSolver, solve_highs
from tenflow.solve.program import Program

Array = np.ndarray


# ---------------------------------------------------------------------------------------------- cones -> cuts
class ConeCuts:
    """All cones of a program in standard form ``||W_i x + w0_i|| <= a_i^T x + a0_i``, cut generator.

    A rotated cone ``2 u v >= ||w||^2`` (``u = f1 x + c1``, ``v = f2 x + c2``) is written as
    ``||(w, (u - v)/sqrt 2)|| <= (u + v)/sqrt 2``. Gradient cut at a point with ``w_0 != 0``:
    ``n^T (W x + w0) <= a^T x + a0`` with ``n = w_0/||w_0||`` — valid everywhere by Cauchy–Schwarz.
    """

    def __init__(self, prog: Program) -> None:
        n = prog.n
        r2 = 1.0 / np.sqrt(2.0)
        Ws, w0s, As, a0s, sizes = [], [], [], [], []
        for c in prog.cones:
            F = sp.csr_matrix((c.F.data, c.F.indices, c.F.indptr), shape=(c.F.shape[0], n))
            G = sp.csr_matrix((c.G.data, c.G.indices, c.G.indptr), shape=(c.G.shape[0], n))
            if c.rotated:
                u, v = F[0], F[1]
                Ws.append(sp.vstack([G, (u - v) * r2]))
                w0s.append(np.r_[c.g, (c.c[0] - c.c[1]) * r2])
                As.append((u + v) * r2)
                a0s.append((c.c[0] + c.c[1]) * r2)
            else:
                Ws.append(G)
                w0s.append(c.g)
                As.append(F)
                a0s.append(c.c[0])
            sizes.append(Ws[-1].shape[0])
        self.n_cones = len(sizes)
        self.W = sp.vstack(Ws, format="csr") if Ws else sp.csr_matrix((0, n))
        self.w0 = np.concatenate(w0s) if w0s else np.zeros(0)
        self.A = sp.vstack(As, format="csr") if As else sp.csr_matrix((0, n))
        self.a0 = np.asarray(a0s, dtype=float)
        self.cone_of_row = np.repeat(np.arange(self.n_cones), sizes)
        self.R = sp.csr_matrix((np.ones(len(self.cone_of_row)), (self.cone_of_row, np.arange(len(self.cone_of_row)))),
                               shape=(self.n_cones, len(self.cone_of_row)))
        self.n = n

    def violation(self, x: Array) -> Array:
        w = self.W @ x + self.w0
        nrm = np.sqrt(self.R @ (w * w))
        return nrm - (self.A @ x + self.a0)

    def cuts(self, x: Array, tol: float | None = None, mask: Array | None = None) -> tuple[sp.csr_matrix, Array]:
        """Gradient cuts at ``x`` (rows ``C y <= d``) for cones violated by more than ``tol`` (all if None),
        restricted to the cones selected by the boolean ``mask``."""
        w = self.W @ x + self.w0
        nrm = np.sqrt(self.R @ (w * w))
        sel = nrm > 1e-12
        if mask is not None:
            sel &= mask
        if tol is not None:
            sel &= (nrm - (self.A @ x + self.a0)) > tol
        if not sel.any():
            return sp.csr_matrix((0, self.n)), np.zeros(0)
        nvec = w / np.maximum(nrm[self.cone_of_row], 1e-300)
        rows_sel = sel[self.cone_of_row]
        Rn = self.R[sel][:, :] @ sp.diags(np.where(rows_sel, nvec, 0.0))
        C = (Rn @ self.W - self.A[sel]).tocsr()
        d = self.a0[sel] - Rn @ self.w0
        return C, d


def gen_cone_mask(model: CoordinatedModel, cc: ConeCuts) -> Array:
    """Cones of the generator-cost epigraphs (``t >= |I|^2``, ``z >= t^2``)."""
    names = np.array([c.name for c in model.prog.cones], dtype=object)
    base = model.net.Ig.name
    return (names == f"{base}_t") | (names == f"{base}_z")


def seed_points(model: CoordinatedModel, x: Array, factors: tuple[float, ...] = (0.4, 0.6, 0.8, 0.9, 1.1, 1.25, 1.5),
                angles_deg: tuple[float, ...] = (-8.0, 0.0, 8.0)) -> list[Array]:
    """Points around ``x`` with the generator currents scaled/rotated and their epigraphs on the boundary
    (§3.10 option 3: tangent grid of the convex generator cost)."""
    net = model.net
    if net.t is None:
        return []
    Ig = net.gen_currents(x)
    out = []
    for f in factors:
        for a in angles_deg:
            if f == 1.0 and a == 0.0:
                continue
            I2 = Ig * f * np.exp(1j * np.deg2rad(a))
            y = x.copy()
            y[net.Ig.slice] = np.stack([I2.real, I2.imag], axis=1).ravel()
            t = np.abs(I2) ** 2
            y[net.t.slice] = t.ravel()
            if net.z is not None:
                y[net.z.slice] = (t**2).ravel()
            out.append(y)
    return out


# ---------------------------------------------------------------------------------------------- result
@dataclass
class OAResult:
    x: Array
    ub: float
    lb: float
    gap: float
    history: list[dict] = field(default_factory=list)
    milp_s: float = 0.0
    polish_s: float = 0.0
    n_cuts: int = 0


def _lp_copy(prog: Program, integer: bool) -> Program:
    """Same variables/rows/objective, no cones (and integrality removed unless ``integer``)."""
    from dataclasses import replace

    q = replace(prog, cones=[])
    if not integer:
        q._int = [np.zeros_like(a) for a in prog._int]
    return q


def _polish(model: CoordinatedModel, xbin: Array, tol: float = 1e-8) -> tuple[Array, float]:
    """Fix the firings to ``xbin`` and solve the continuous rest exactly (Clarabel).

    With the firings fixed, idle and SoC are determined by the conservation and SoC rows, and the grid part
    separates into the per-step IV-ACOPF with fixed charging injections; it is solved as one conic program
    (:func:`tenflow.formulations.ivacopf.add_iv_network`, same tangent ``model.v_hat``). Returns the full
    vector and the convex program's objective value (``inf`` if infeasible).
    """
    prog, tv, net, grid = model.prog, model.tv, model.net, model.grid
    x = np.array(xbin, dtype=float, copy=True)
    xv = np.round(x[tv.x.slice])
    x[tv.x.slice] = xv
    S, N = len(net.steps), grid.n_bus
    inj = (model.coupling @ xv).reshape(S, 2, N)
    extra = np.array(grid.extra_injection, dtype=complex, copy=True)
    extra[net.steps] += inj[:, 0] + 1j * inj[:, 1]
    g2 = grid.with_options(extra_injection=extra)
    gp = Program("polish")
    gnet = iv.add_iv_network(gp, g2, net.steps, revenue="tangent", v_hat=model.v_hat)
    s = solve_clarabel(gp, tol=tol)
    if s.status != "optimal":
        return np.full(prog.n, np.nan), np.inf
    for blk_m, blk_g in ((net.V, gnet.V), (net.Ig, gnet.Ig), (net.t, gnet.t), (net.z, gnet.z)):
        if blk_m is not None and blk_g is not None:
            x[blk_m.slice] = s.x[blk_g.slice]
    x[tv.q.slice] = np.round(x[tv.q.slice])
    ev_cols = np.r_[tv.x.cols, tv.q.cols]
    val = float(prog.c[ev_cols] @ x[ev_cols]) + float(s.objective)
    return x, val


def solve_oa(model: CoordinatedModel, x_start: Array | None, *, rel_gap: float = 1e-3, time_limit: float = 600.0,
             max_rounds: int = 12, kelley_rounds: int = 30, kelley_rtol: float = 1e-6, lp_guided: bool = True,
             start_feasible: bool = True, threads: int | None = None,
             verbose: bool = False) -> OAResult:
    """MILP outer approximation + polish for the convex MI program of ``model`` (see module docstring)."""
    prog = model.prog
    t_start = time.perf_counter()
    cc = ConeCuts(prog)
    hist: list[dict] = []
    cuts_C: list[sp.csr_matrix] = []
    cuts_d: list[Array] = []

    # ---- Kelley loop on the LP relaxation (cheap, generates the tangent grid where it matters)
    lp = _lp_copy(prog, integer=False)
    # the coupled LP is hard for cold dual simplex (≈15 s); interior point + crossover first, then warm simplex
    hl = HighsSolver(lp, threads=threads, options={"solver": "ipm"})
    if x_start is not None:
        C, d = cc.cuts(x_start)
        hl.add_rows(C, np.full(len(d), -np.inf), d)
        cuts_C.append(C)
        cuts_d.append(d)
        for xs in seed_points(model, x_start):  # tangent grid of the generator-cost cones around the start
            C, d = cc.cuts(xs, mask=gen_cone_mask(model, cc))
            hl.add_rows(C, np.full(len(d), -np.inf), d)
            cuts_C.append(C)
            cuts_d.append(d)
    lp_bound = -np.inf
    for it in range(kelley_rounds):
        s = hl.solve()
        if s.status != "optimal":
            if s.status == "infeasible":
                raise InfeasibleError("the coordinated OMTEPF is infeasible (its LP relaxation already is)",
                                      diagnose(model))
            raise SolverError(f"LP relaxation: HiGHS status {s.status}")
        if it == 0:
            hl.h.setOptionValue("solver", "simplex")
        improve = s.objective - lp_bound
        lp_bound = s.objective
        C, d = cc.cuts(s.x, tol=1e-7)
        hist.append({"phase": "kelley", "round": it, "lp_bound": lp_bound, "new_cuts": len(d), "lp_s": s.time_s})
        status(f"coordinated: LP outer approximation round {it}: bound {lp_bound:.6f}, {len(d)} new cuts")
        if len(d) == 0 or improve <= kelley_rtol * abs(lp_bound):
            break
        if time.perf_counter() - t_start > 0.5 * time_limit:  # leave time for the integer phase
            break
        hl.add_rows(C, np.full(len(d), -np.inf), d)
        cuts_C.append(C)
        cuts_d.append(d)
    x_lp = s.x
    # ---- MILP rounds
    milp = _lp_copy(prog, integer=True)
    hm = HighsSolver(milp, threads=threads, verbose=verbose, options={"mip_lp_solver": "ipm"})
    Call = sp.vstack(cuts_C, format="csr") if cuts_C else sp.csr_matrix((0, prog.n))
    dall = np.concatenate(cuts_d) if cuts_d else np.zeros(0)
    if len(dall):
        hm.add_rows(Call, np.full(len(dall), -np.inf), dall)
    n_cuts = len(dall)
    best_x, ub = (None, np.inf)
    polish_s = 0.0
    if x_start is not None and start_feasible:
        t0 = time.perf_counter()
        xp, val = _polish(model, x_start)
        polish_s += time.perf_counter() - t0
        if np.isfinite(val):
            best_x, ub = xp, val
    milp_s = 0.0
    # ---- LP-guided fix-and-solve: binaries integral in the LP relaxation fixed, the fractional ones free
    # (a restricted MILP: an upper bound only; the lower bound stays the LP bound, valid for the full program)
    if lp_guided:
        xb = model.tv.x
        v = x_lp[xb.slice]
        frac = (v > 1e-6) & (v < 1 - 1e-6)
        evx = model.fleet.caps["ev"].to_numpy()[model.tv.fs.x_cap]
        # neighbourhoods: (1) only the fractional binaries free; (2) all binaries of EVs with a fractional one
        for nb, free in (("fractional", frac), ("fractional_evs", np.isin(evx, np.unique(evx[frac])))):
            if (ub - lp_bound) / max(abs(ub), 1e-9) <= rel_gap:
                break
            fixed = np.flatnonzero(~free)
            cols = xb.start + fixed
            lb0, ub0 = prog.lb[cols], prog.ub[cols]
            hm.set_bounds(cols, np.round(v[fixed]), np.round(v[fixed]))
            if best_x is not None:
                hm.set_start(best_x)
            remaining = time_limit - (time.perf_counter() - t_start)
            s = hm.solve(mip_rel_gap=max(rel_gap * 0.1, 1e-6), time_limit=max(1.0, 0.3 * remaining))
            milp_s += s.time_s
            hm.set_bounds(cols, lb0, ub0)
            hm.h.setOptionValue("time_limit", np.inf)
            if s.ok:
                t0 = time.perf_counter()
                xp, val = _polish(model, s.x)
                polish_s += time.perf_counter() - t0
                if val < ub:
                    best_x, ub = xp, val
                C, d = cc.cuts(xp)
                if len(d):
                    hm.add_rows(C, np.full(len(d), -np.inf), d)
                    n_cuts += len(d)
            status(f"coordinated: fix-and-solve ({nb}): upper bound {ub:.6f}, lower bound {lp_bound:.6f}")
            hist.append({"phase": "lp_guided", "neighbourhood": nb, "free_binaries": int(free.sum()),
                         "status": s.status, "ub": ub, "lb": lp_bound,
                         "gap": (ub - lp_bound) / max(abs(ub), 1e-9), "milp_s": s.time_s})
    lb = lp_bound
    if best_x is not None and (ub - lb) / max(abs(ub), 1e-9) <= rel_gap:
        return OAResult(x=best_x, ub=ub, lb=lb, gap=(ub - lb) / max(abs(ub), 1e-9), history=hist, milp_s=milp_s,
                        polish_s=polish_s, n_cuts=n_cuts)
    for rnd in range(max_rounds):
        remaining = time_limit - (time.perf_counter() - t_start)
        if remaining <= 1:
            break
        if best_x is not None:
            hm.set_start(best_x)
        target = max(rel_gap * 0.5, 1e-5)
        s = hm.solve(mip_rel_gap=target, time_limit=remaining)
        milp_s += s.time_s
        if not s.ok:
            if s.status == "infeasible":
                raise InfeasibleError("the coordinated OMTEPF is infeasible (MILP outer approximation)",
                                      diagnose(model))
            break
        lb = max(lb, float(s.bound if s.bound is not None else -np.inf))
        t0 = time.perf_counter()
        xp, val = _polish(model, s.x)
        polish_s += time.perf_counter() - t0
        if val < ub:
            best_x, ub = xp, val
        gap = (ub - lb) / max(abs(ub), 1e-9)
        # cuts at the MILP point (where the OA is loose) and at the polished point (tight at the optimum)
        pts = [s.x] + ([xp] if np.isfinite(val) else [])
        new = 0
        for p in pts:
            C, d = cc.cuts(p, tol=1e-9 if p is s.x else None)
            if len(d):
                hm.add_rows(C, np.full(len(d), -np.inf), d)
                new += len(d)
        n_cuts += new
        status(f"coordinated: MILP round {rnd}: upper bound {ub:.6f}, lower bound {lb:.6f}, gap {100 * gap:.3f} %")
        hist.append({"phase": "milp", "round": rnd, "milp_obj": s.objective, "bound": float(s.bound if s.bound is not None else -np.inf),
                     "polished": val, "ub": ub, "lb": lb, "gap": gap, "new_cuts": new, "milp_s": s.time_s})
        if gap <= rel_gap:
            break
    if best_x is None:
        raise SolverError("no feasible coordinated solution found within the limits")
    gap = (ub - lb) / max(abs(ub), 1e-9)
    return OAResult(x=best_x, ub=ub, lb=lb, gap=gap, history=hist, milp_s=milp_s, polish_s=polish_s, n_cuts=n_cuts)


def solve_exact_backend(model: CoordinatedModel, *, backend: str = "scip", rel_gap: float = 1e-3,
                        time_limit: float = 600.0, threads: int | None = None,
                        verbose: bool = False) -> tuple[Array, float, float, float, dict]:
    """Optional exact backends: the same convex MI program solved by SCIP (``heuristics/mpec/freq = -1``) or
    Gurobi (MISOCP as quadratic constraints); SCIP's/Gurobi's integer decisions are polished by the exact
    convex subproblem. Returns ``(x, ub, lb, gap, extra)``."""
    if backend == "scip":
        from tenflow.solve.scip_backend import solve_scip

        s = solve_scip(model.prog, gap=rel_gap, time_limit=time_limit, verbose=verbose)
    elif backend == "gurobi":
        from tenflow.solve.gurobi_backend import solve_gurobi

        s = solve_gurobi(model.prog, gap=rel_gap, time_limit=time_limit, threads=threads, verbose=verbose)
    else:
        raise ValueError(f"exact backend must be 'scip' or 'gurobi', not {backend!r}")
    st_key = f"{backend}_status"
    if s.status not in ("optimal", "feasible"):
        if s.status == "infeasible":
            raise InfeasibleError(f"the coordinated OMTEPF is infeasible ({backend})")
        return np.full(model.prog.n, np.nan), np.inf, -np.inf, np.inf, {st_key: s.info.get(st_key)}
    x = s.x.copy()
    x[model.tv.x.slice] = np.round(x[model.tv.x.slice])
    xp, val = _polish(model, x)  # exact convex value of the solver's integer decisions (removes its tolerances)
    ub = min(val, float(s.objective)) if np.isfinite(val) else float(s.objective)
    if np.isfinite(val) and val <= float(s.objective) + 1e-9:
        x = xp
    lb = float(s.bound if s.bound is not None else -np.inf)
    return x, ub, lb, (ub - lb) / max(abs(ub), 1e-9), {f"{backend}_s": s.time_s, st_key: s.info.get(st_key),
                                                       "nodes": s.info.get("nodes")}


def solve_scip_backend(model: CoordinatedModel, *, rel_gap: float = 1e-3, time_limit: float = 600.0,
                       verbose: bool = False) -> tuple[Array, float, float, float, dict]:
    """Optional exact backend: the same convex MI program solved by SCIP (see :func:`solve_exact_backend`)."""
    return solve_exact_backend(model, backend="scip", rel_gap=rel_gap, time_limit=time_limit, verbose=verbose)


def diagnose(model: CoordinatedModel) -> list[str]:
    """Name what makes the coordinated program infeasible: EVs whose itinerary, SoC limits and charging
    opportunities are infeasible on their own (transport + SoC net only), else the shared capacities (if the
    transport + SoC part of all EVs is infeasible), else the grid (voltage / current limits)."""
    from tenflow.problems.uncoordinated import _window_text

    fleet, fs = model.fleet, model.tv.fs
    evx = fleet.caps["ev"].to_numpy()[fs.x_cap]
    out: list[str] = []
    for v in range(fleet.n_ev):
        sub = TR.FiringSet(fs.k0, fs.k1, fs.start, fs.x_cap[evx == v], fs.x_k[evx == v], fs.q_ev[fs.q_ev == v],
                           fs.q_buf[fs.q_ev == v], fs.q_k[fs.q_ev == v], fs.reach, active=np.arange(fleet.n_ev) == v)
        p = Program("ev-feasibility")
        tv = TR.add_transport(p, fleet, sub)
        CH.add_soc(p, tv, soc_end=np.where(np.arange(fleet.n_ev) == v, fleet.soc_final, fleet.soc_init))
        if solve_highs(p).status == "infeasible":
            out.append(_window_text(fleet, v, fs.k0, fs.k1, "itinerary, SoC limits and charging opportunities "
                                    f"cannot return the battery to soc_final = {fleet.soc_final[v]:g}"))
    if out:
        return out
    p = Program("transport+soc")
    tv = TR.add_transport(p, fleet, fs)
    CH.add_soc(p, tv, soc_end=fleet.soc_final)
    if solve_highs(p).status == "infeasible":
        return ["every EV is feasible alone: road / lot / plug capacities are too small for the itineraries"]
    return ["the EV part is feasible: the grid limits (voltage bounds, one-way lines, generator or line current "
            "limits) cannot supply the charging the itineraries need"]


# ---------------------------------------------------------------------------------------------- warm start
def start_vector(model: CoordinatedModel, sol: OmtepfSolution) -> Array:
    """Full variable vector of ``model`` from an :class:`OmtepfSolution` (e.g. the uncoordinated plan).

    Raises :class:`InfeasibleError` naming the firings that the coordinated program does not contain.
    """
    prog, tv, fleet = model.prog, model.tv, model.fleet
    fs = tv.fs
    x = np.zeros(prog.n)
    f = sol.firings
    if "cap" in f.columns:
        cap = f["cap"].to_numpy(dtype=int)
    else:
        raise ValueError("the solution's firings lack the 'cap' column of the pipeline")
    key = pd.MultiIndex.from_arrays([fs.x_cap, fs.x_k])
    pos = key.get_indexer(pd.MultiIndex.from_arrays([cap, f["k"].to_numpy(dtype=int)]))
    if (pos < 0).any():
        bad = f[pos < 0].head(5)
        raise InfeasibleError("the given plan uses firings outside the coordinated program",
                              [f"EV {r.ev} k={r.k} {r.kind} {r.component}" for r in bad.itertuples()])
    x[tv.x.start + pos] = 1.0
    qkey = pd.MultiIndex.from_arrays([fs.q_ev, fs.q_k, fs.q_buf])
    if len(sol.idle):
        qpos = qkey.get_indexer(pd.MultiIndex.from_arrays([
            fleet.ev_ids.get_indexer(sol.idle["ev"].astype(str)), sol.idle["k"].to_numpy(dtype=int),
            fleet.buffer_ids.get_indexer(sol.idle["buffer"].astype(str))]))
        if (qpos < 0).any():
            raise InfeasibleError("the given plan queues where the coordinated program does not allow it")
        x[tv.q.start + qpos] = 1.0
    s = sol.soc.pivot(index="ev", columns="k", values="soc").loc[list(fleet.ev_ids)].to_numpy()
    x[model.soc.soc.slice] = s.ravel()
    net = model.net
    grid = model.grid
    if len(sol.voltages):
        vr = sol.voltages.pivot(index="k", columns="bus", values="vr")
        vi = sol.voltages.pivot(index="k", columns="bus", values="vi")
        cols = [str(b) for b in grid.buses]
        V = vr[cols].to_numpy() + 1j * vi[cols].to_numpy()
        x[net.V.slice] = np.stack([V.real, V.imag], axis=1).ravel()
        ir = sol.gen_currents.pivot(index="k", columns="gen", values="ir")[[str(g) for g in grid.gen_ids]]
        ii = sol.gen_currents.pivot(index="k", columns="gen", values="ii")[[str(g) for g in grid.gen_ids]]
        Ig = ir.to_numpy() + 1j * ii.to_numpy()
        x[net.Ig.slice] = np.stack([Ig.real, Ig.imag], axis=1).ravel()
        t = np.abs(Ig) ** 2
        if net.t is not None:
            x[net.t.slice] = t.ravel()
        if net.z is not None:
            x[net.z.slice] = (t**2).ravel()
    return x


def plan_is_feasible(model: CoordinatedModel, x: Array, tol: float = 1e-6) -> dict[str, float]:
    """Largest violation of the rows, bounds and cones of the coordinated program at ``x`` (§6.2 item 6)."""
    prog = model.prog
    Ax = prog.A @ x
    row = float(np.max(np.r_[prog.row_lo - Ax, Ax - prog.row_hi, 0.0]))
    bnd = float(np.max(np.r_[prog.lb - x, x - prog.ub, 0.0]))
    cone = float(np.max(np.r_[ConeCuts(prog).violation(x), 0.0]))
    integ = prog.integrality
    frac = float(np.max(np.r_[np.abs(x[integ] - np.round(x[integ])), 0.0]))
    return {"rows": row, "bounds": bnd, "cones": cone, "integrality": frac,
            "feasible": float(max(row, bnd, cone, frac) <= tol)}


# ---------------------------------------------------------------------------------------------- CCP
def ccp_refine(model: CoordinatedModel, x: Array, max_iter: int = 20, rtol: float = 1e-9) -> tuple[Array, list[float]]:
    """Convex–concave refinement of the continuous part with the firings fixed (§3.10 option 2)."""
    net = model.net
    hist = [true_objective(model, x)]
    best = x
    for _ in range(max_iter):
        model.v_hat = net.voltages(best)
        iv.update_revenue_tangent(model.prog, net, model.v_hat)
        x2, _ = _polish(model, best)
        if not np.all(np.isfinite(x2)):
            break
        val = true_objective(model, x2)
        if val < hist[-1] - rtol * (1 + abs(hist[-1])):
            best = x2
            hist.append(val)
        else:  # no further descent: keep the previous point (the history holds accepted points only)
            break
    return best, hist


def true_objective(model: CoordinatedModel, x: Array) -> float:
    """Eq. 67 without the constant ``C_S``: transport + queue - charging revenue (linear part of the program's
    objective on the EV blocks) + exact quartic generator cost - exact demand revenue."""
    prog, tv, net, grid = model.prog, model.tv, model.net, model.grid
    c = prog.c
    ev_cols = np.r_[tv.x.cols, tv.q.cols]
    lin = float(c[ev_cols] @ x[ev_cols])
    V = net.voltages(x)
    Ig = net.gen_currents(x)
    return lin + float(iv.true_objective(grid, V, Ig, net.steps).sum())


# ---------------------------------------------------------------------------------------------- run
def decode(model: CoordinatedModel, x: Array, info: dict[str, Any], case: Case) -> OmtepfSolution:
    fleet, tv = model.fleet, model.tv
    firings = TR.decode_firings(fleet, tv.fs, x[tv.x.slice])
    idle = TR.decode_idle(fleet, tv.fs, x[tv.q.slice])
    K = fleet.K
    s = x[model.soc.soc.slice].reshape(fleet.n_ev, K + 1)
    soc = pd.DataFrame({"ev": np.repeat(fleet.ev_ids.to_numpy(dtype=object), K + 1), "k": np.tile(np.arange(K + 1),
                        fleet.n_ev), "soc": np.round(s.ravel(), 9)})
    return OmtepfSolution(mode="coordinated", case_name=case.name, K=K, firings=firings, idle=idle, soc=soc,
                          voltages=voltage_frame(model.grid, model.net.voltages(x)),
                          gen_currents=gen_frame(model.grid, model.net.gen_currents(x)), info=info)


def run(case: Case, *, backend: str = "highs", rel_gap: float = 1e-3, time_limit: float = 600.0,
        warm_start: OmtepfSolution | None = None, ccp: bool = True, threads: int | None = None,
        verbose: bool = False) -> OmtepfSolution:
    """Solve the coordinated OMTEPF (§3.9) and return the plan with ``info`` = objective (true, eq. 67 without
    the constant ``C_S``), ``program_objective`` (convex program, tangent revenue), ``bound``, ``gap``, timings,
    sizes and the iteration history."""
    from tenflow.problems import uncoordinated

    t0 = time.perf_counter()
    unc = uncoordinated.run(case) if warm_start is None else warm_start
    t_unc = time.perf_counter() - t0
    fleet = TR.build_fleet(case)
    t1 = time.perf_counter()
    from tenflow.formulations.grid_data import grid_from_case

    grid = grid_from_case(case)
    v_hat = None
    if len(unc.voltages):
        vr = unc.voltages.pivot(index="k", columns="bus", values="vr")[[str(b) for b in grid.buses]]
        vi = unc.voltages.pivot(index="k", columns="bus", values="vi")[[str(b) for b in grid.buses]]
        v_hat = vr.to_numpy() + 1j * vi.to_numpy()
    status("coordinated: building the mixed-integer convex program")
    model = build_coordinated(case, fleet, v_hat=v_hat, grid=grid)
    build_s = time.perf_counter() - t1
    x0 = start_vector(model, unc)
    feas = plan_is_feasible(model, x0)
    if backend == "highs":
        res = solve_oa(model, x0, rel_gap=rel_gap, time_limit=time_limit, threads=threads, verbose=verbose,
                       start_feasible=bool(feas["feasible"]))
        x, ub, lb, gap = res.x, res.ub, res.lb, res.gap
        hist, extra = res.history, {"milp_s": res.milp_s, "polish_s": res.polish_s}
        n_cuts = res.n_cuts
    elif backend in ("scip", "gurobi"):
        x, ub, lb, gap, extra = solve_exact_backend(model, backend=backend, rel_gap=rel_gap, time_limit=time_limit,
                                                    threads=threads, verbose=verbose)
        n_cuts = 0
        if feas["feasible"] and (not np.isfinite(ub) or ub > true_objective(model, x0) + 1e-9):  # keep warm start
            xp, val = _polish(model, x0)
            if val < ub:
                x, ub = xp, val
                gap = (ub - lb) / max(abs(ub), 1e-9)
        hist = []
    else:
        raise ValueError(f"backend must be 'highs', 'scip' or 'gurobi', not {backend!r}")
    t_solve = time.perf_counter() - t1 - build_s
    true0 = true_objective(model, x)
    ccp_hist = [true0]
    if ccp:
        x, ccp_hist = ccp_refine(model, x)
    info = {"solver": backend, "status": "optimal" if gap <= rel_gap else "gap_not_reached",
            "objective": true_objective(model, x), "program_objective": ub, "bound": lb, "gap": gap,
            "bound_note": "bound/gap certify the mixed-integer convex program with the demand revenue linearised "
                          "at the warm start's voltages (a majoriser of eq. 67); objective is eq. 67 evaluated "
                          "exactly (without the constant solar cost)",
            "warm_start_objective": true_objective(model, x0), "warm_start_feasible": feas,
            "timings": {"warm_start_s": t_unc, "build_s": build_s, "solve_s": t_solve,
                        "total_s": time.perf_counter() - t0, **extra},
            "sizes": {**model.prog.size_summary(), "oa_cuts": n_cuts},
            "iterations": {ph: sum(1 for h in hist if h["phase"] == ph) for ph in ("kelley", "lp_guided", "milp")}
            | {"ccp": len(ccp_hist) - 1},
            "history": hist, "ccp_history": ccp_hist}
    return decode(model, x, info, case)
