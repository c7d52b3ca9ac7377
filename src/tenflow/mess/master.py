"""Dantzig–Wolfe master over site chains with column generation (mess.md §6.2, steps 3–6).

min Σ c_p x_p  s.t.  Σ_{p∈i} x_p = 1 (π_i);  Σ_p occ_{k,j}(p) x_p ≤ n_k (μ_{k,j} ≤ 0);
Σ_p plug_{r,j}(p) x_p ≤ plugs_r (ν_{r,j} ≤ 0);  x ∈ {0,1}.

* LP and integer master are solved by HiGHS through :class:`tenflow.solve.Program`.
* Pricing is exact: trip DPs per type (prices ``-μ_k``, ``-ν``) and the chain DP per site
  (:mod:`tenflow.mess.dp`); the Lagrangian bound ``Σ_i v_i(π) + Σ μ n + Σ ν plugs`` is a valid lower bound for
  any duals with ``μ, ν ≤ 0``; LB = the best such bound (= z_LP at convergence).
* Wentges smoothing (α = 0.3 by default, tuned on mess-large; spec §6.7 names 0.5): price at
  ``α·center + (1-α)·π_LP``; on a mis-price, price at π_LP and halve α.
* Phase I (pool infeasible for the fleet/plug rows): elastic slacks on those rows, objective Σ slacks, columns
  priced with zero base cost; a positive phase-I optimum with exact pricing proves infeasibility, and the rows with
  positive slack form the certificate.
* Closure (:func:`enumerate_columns`): all chains with reduced cost ≤ min + Γ, Γ = UB − LB (Baldacci et al. 2008).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from tenflow.core import tsdp
from tenflow.errors import SolverError
from tenflow.mess import dp
from tenflow.mess.dp import Column, TripDP
from tenflow.mess.instance import MessInstance
from tenflow.solve import Program, solve_highs

RC_TOL = 1e-9
_POOL: ThreadPoolExecutor | None = None


def _map(f, items):  # type: ignore[no-untyped-def]
    """Map over items with a small thread pool when the compiled (GIL-free) kernels are used; order preserved."""
    items = list(items)
    if len(items) < 2 or not tsdp.use_numba():
        return [f(x) for x in items]
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))
    return list(_POOL.map(f, items))


@dataclass
class Duals:
    pi: np.ndarray  # [n_sites]
    mu: np.ndarray  # [K, J] (<= 0)
    nu: np.ndarray  # [R, S] (<= 0)

    def combine(self, other: Duals, alpha: float) -> Duals:
        return Duals(alpha * self.pi + (1 - alpha) * other.pi, alpha * self.mu + (1 - alpha) * other.mu,
                     alpha * self.nu + (1 - alpha) * other.nu)


@dataclass
class LPResult:
    z: float
    x: np.ndarray
    duals: Duals
    slack_fleet: np.ndarray | None = None
    slack_plug: np.ndarray | None = None


@dataclass
class Pool:
    """Column pool with deduplication by constraint signature (cheapest kept)."""

    inst: MessInstance
    cols: list[Column] = field(default_factory=list)
    index: dict[tuple[int, bytes, bytes], int] = field(default_factory=dict)

    def add(self, col: Column) -> bool:
        sig = col.signature()
        i = self.index.get(sig)
        if i is None:
            self.index[sig] = len(self.cols)
            self.cols.append(col)
            return True
        if col.cost < self.cols[i].cost - 1e-12:
            self.cols[i] = col
            return True
        return False

    def matrices(self) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, np.ndarray]:
        inst = self.inst
        n = len(self.cols)
        site = sp.csr_matrix((np.ones(n), ([c.site for c in self.cols], np.arange(n))), shape=(len(inst.sites), n))
        K, J = len(inst.types), inst.n_steps
        occ = sp.csr_matrix(np.stack([c.occ.reshape(-1) for c in self.cols], axis=1).astype(float)) if n else \
            sp.csr_matrix((K * J, 0))
        R, S = inst.n_res, inst.S
        plug = sp.csr_matrix(np.stack([c.plugs.reshape(-1) for c in self.cols], axis=1).astype(float)) if n else \
            sp.csr_matrix((R * S, 0))
        cost = np.array([c.cost for c in self.cols])
        return site, occ, plug, cost


def caps(inst: MessInstance) -> tuple[np.ndarray, np.ndarray]:
    K, J = len(inst.types), inst.n_steps
    fleet = np.repeat(np.array([t.count for t in inst.types], dtype=float), J).reshape(K, J).reshape(-1)
    plugs = np.repeat(inst.res_plugs.astype(float), inst.S)
    return fleet, plugs


def build_program(inst: MessInstance, pool: Pool, *, integer: bool = False, phase1: bool = False,
                  cols: np.ndarray | None = None) -> Program:
    site, occ, plug, cost = pool.matrices()
    if cols is not None:
        site, occ, plug, cost = site[:, cols], occ[:, cols], plug[:, cols], cost[cols]
    n = site.shape[1]
    fleet_cap, plug_cap = caps(inst)
    p = Program("mess-master")
    x = p.add_vars("x", n, lb=0.0, ub=1.0 if integer else np.inf, integer=integer)
    p.add_objective(x, 0.0 if phase1 else cost)
    p.add_rows("site", [(x, site)], lo=1.0, hi=1.0)
    if phase1:
        sf = p.add_vars("sf", occ.shape[0], lb=0.0)
        sq = p.add_vars("sq", plug.shape[0], lb=0.0)
        p.add_objective(sf, 1.0)
        p.add_objective(sq, 1.0)
        p.add_rows("fleet", [(x, occ), (sf, -sp.identity(occ.shape[0]))], hi=fleet_cap)
        if plug.shape[0]:
            p.add_rows("plug", [(x, plug), (sq, -sp.identity(plug.shape[0]))], hi=plug_cap)
    else:
        p.add_rows("fleet", [(x, occ)], hi=fleet_cap)
        if plug.shape[0]:
            p.add_rows("plug", [(x, plug)], hi=plug_cap)
    return p


def solve_lp(inst: MessInstance, pool: Pool, phase1: bool = False) -> LPResult:
    res = try_lp(inst, pool, phase1)
    if isinstance(res, str):
        raise SolverError(f"master LP: HiGHS status {res}")
    return res


def try_lp(inst: MessInstance, pool: Pool, phase1: bool = False) -> LPResult | str:
    """The master LP (or its phase-I form); the HiGHS status when it is not solved to optimality."""
    p = build_program(inst, pool, phase1=phase1)
    sol = solve_highs(p)
    if sol.status != "optimal":
        return str(sol.status)
    K, J, R, S = len(inst.types), inst.n_steps, inst.n_res, inst.S
    pi = sol.dual("site")
    mu = np.minimum(sol.dual("fleet"), 0.0).reshape(K, J)
    nu = np.minimum(sol.dual("plug"), 0.0).reshape(R, S) if R else np.zeros((0, S))
    res = LPResult(sol.objective, sol["x"], Duals(pi, mu, nu))
    if phase1:
        res.slack_fleet = sol["sf"].reshape(K, J)
        res.slack_plug = sol["sq"].reshape(R, S) if R else np.zeros((0, S))
    return res


def solve_ip(inst: MessInstance, pool: Pool, time_limit: float | None = None,
             cols: np.ndarray | None = None) -> tuple[str, float, np.ndarray]:
    p = build_program(inst, pool, integer=True, cols=cols)
    from tenflow.solve import HighsSolver

    hs = HighsSolver(p, options={"mip_rel_gap": 0.0, "mip_abs_gap": 1e-9})
    sol = hs.solve(time_limit=time_limit)
    return sol.status, float(sol.objective), sol.x


def reduced_cost(col: Column, d: Duals, w: float = 1.0) -> float:
    return float(w * col.cost - d.pi[col.site] - np.sum(d.mu * col.occ) - np.sum(d.nu * col.plugs))


def type_prices(inst: MessInstance, d: Duals, k: int) -> tsdp.Prices:
    res = -d.nu if inst.n_res else np.zeros((1, inst.S))
    return tsdp.Prices(np.maximum(-d.mu[k], 0.0), np.maximum(res, 0.0))


@dataclass
class Pricer:
    """Exact pricing with per-type caching of the trip DPs (§6.7).

    A type's DPs are reused when its prices are unchanged and otherwise warm-started from the cached result (of the
    last ``keep``) whose prices differ on the fewest steps: only the states the changed duals can reach are
    recomputed (bit-identical to a full pass).
    """

    inst: MessInstance
    numba: bool | None = None
    cache: dict[int, list[TripDP]] = field(default_factory=dict)
    n_dp: int = 0
    keep: int = 3

    def seed(self, trips: list[TripDP | None]) -> None:
        """Add already computed trip DPs (e.g. the zero-dual ones of the single-site check) to the cache."""
        for k, td in enumerate(trips):
            if td is not None:
                self.cache.setdefault(k, []).append(td)

    def trips(self, d: Duals, w: float) -> list[TripDP | None]:
        out: list[TripDP | None] = [None] * len(self.inst.types)
        todo: list[tuple[int, tsdp.Prices, TripDP | None]] = []
        for k in range(len(self.inst.types)):
            pr = type_prices(self.inst, d, k)
            best, work = None, None
            for old in self.cache.get(k, []):
                wk = dp.warm_work(self.inst, k, old, pr, w)
                if work is None or wk < work:
                    best, work = old, wk
            if best is not None and work == 0:
                out[k] = dp.TripDP(best.fw, best.bw, pr, w)
            else:
                todo.append((k, pr, best if work is not None and work < 2 * self.inst.S else None))
        inst = self.inst

        def half(task: tuple[int, int]) -> Any:  # forward and backward passes are independent tasks
            t, fwd = task
            k, pr, old = todo[t]
            ty = inst.types[k]
            rng = tsdp.changed_steps(ty.graph, old.prices, pr) if old is not None else None
            if fwd:
                return tsdp.forward(ty.graph, ty.source(inst.idle), pr, w, numba=self.numba,
                                    warm=(old.fw, rng[0]) if old is not None and rng is not None else None)
            return tsdp.backward(ty.graph, ty.sink(inst.depot), pr, w, numba=self.numba,
                                 warm=(old.bw, rng[1]) if old is not None and rng is not None else None)

        halves = _map(half, [(t, f) for t in range(len(todo)) for f in (True, False)])
        tds = [TripDP(halves[2 * t], halves[2 * t + 1], todo[t][1], w) for t in range(len(todo))]
        for (k, _pr, _old), td in zip(todo, tds, strict=True):
            self.n_dp += 1
            lst = self.cache.setdefault(k, [])
            lst.append(td)
            if len(lst) > self.keep:
                lst.pop(0)
            out[k] = td
        return out

    def price(self, d: Duals, w: float = 1.0, per_site: int = 1) -> tuple[list[float], list[Column | None],
                                                                      list[TripDP | None], list[dp.ChainDP]]:
        """Exact pricing at duals ``d``: per site the chain-DP value (without the site dual) and its best column.

        With ``per_site > 1`` the extra columns (best chains with other last-swap steps whose reduced cost at ``d``
        is negative, §6.2 step 4) are kept in :attr:`extra` (one list per site).
        """
        trips = self.trips(d, w)
        inst = self.inst

        def one(i: int) -> tuple[dp.ChainDP, list[Column | None]]:
            cd = dp.chain_dp(inst, i, trips, numba=self.numba)
            ends = cd.ends(per_site, below=float(d.pi[i]) - RC_TOL) if per_site > 1 else []
            cols = [dp.trace_chain(inst, cd, trips)] + [dp.trace_chain(inst, cd, trips, e) for e in ends[1:]]
            return cd, cols

        res = _map(one, range(len(inst.sites)))
        cds = [r[0] for r in res]
        self.extra = [[c for c in r[1][1:] if c is not None] for r in res]
        return [cd.value for cd in cds], [r[1][0] for r in res], trips, cds

    extra: list[list[Column]] = field(default_factory=list)


def lagrangian(inst: MessInstance, values: list[float], d: Duals) -> float:
    fleet_cap, plug_cap = caps(inst)
    return float(sum(values) + np.sum(d.mu.reshape(-1) * fleet_cap) + np.sum(d.nu.reshape(-1) * plug_cap))


@dataclass
class CGResult:
    lb: float
    lp: LPResult
    duals: Duals
    iterations: int
    infeasible: bool = False
    certificate: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def phase1(inst: MessInstance, pool: Pool, pricer: Pricer, deadline: float) -> tuple[bool, LPResult, int]:
    """Phase I column generation; returns (feasible, final phase-I LP, iterations)."""
    it = 0
    while True:
        it += 1
        lp = solve_lp(inst, pool, phase1=True)
        if lp.z <= 1e-9:
            return True, lp, it
        values, cols, _t, _c = pricer.price(lp.duals, w=0.0)
        added = False
        for i, col in enumerate(cols):
            if col is None:
                continue
            rc = values[i] - lp.duals.pi[i]
            if rc < -RC_TOL * max(1.0, abs(lp.z)):
                added |= pool.add(col)
        if not added or time.perf_counter() > deadline:
            return lp.z <= 1e-9, lp, it


def certificate(inst: MessInstance, pool: Pool, lp: LPResult) -> list[str]:
    """Human-readable rows with positive phase-I slack (type/time, charger/time) and the sites involved."""
    lines: list[str] = []
    assert lp.slack_fleet is not None and lp.slack_plug is not None

    def hhmm(j: int) -> str:
        t = inst.time_h(j)
        m = int(round(float(t) * 60))
        return f"{m // 60:02d}:{m % 60:02d}"

    used = [c for c, x in zip(pool.cols, lp.x, strict=True) if x > 1e-9]
    for k, ty in enumerate(inst.types):
        s = lp.slack_fleet[k] > 1e-7
        j = 0
        while j < inst.n_steps:
            if not s[j]:
                j += 1
                continue
            j1 = j
            while j1 < inst.n_steps and s[j1]:
                j1 += 1
            short = int(np.ceil(np.max(lp.slack_fleet[k, j:j1]) - 1e-7))
            sites = sorted({inst.sites[c.site].name for c in used if c.occ[k, j:j1].any()})
            lines.append(f"type {ty.name} short by {short} truck{'s' if short != 1 else ''} during "
                         f"{hhmm(j)}–{hhmm(j1)} (sites {', '.join(map(str, sites))})")
            j = j1
    for r in range(inst.n_res):
        for j in np.nonzero(lp.slack_plug[r] > 1e-7)[0].tolist():
            c = inst.charger_nodes[int(inst.res_charger[r])]
            need = int(np.ceil(inst.res_plugs[r] + lp.slack_plug[r, j] - 1e-7))
            lines.append(f"charger {c}: {need} plugs needed, {int(inst.res_plugs[r])} available at {hhmm(int(j))}")
    return lines


def column_generation(inst: MessInstance, pool: Pool, pricer: Pricer, *, alpha: float = 0.3,
                      deadline: float = float("inf"), max_per_site: int = 5) -> CGResult:
    """Phase I (if needed) and phase II column generation; LB = best Lagrangian bound (§6.2 step 4)."""
    t0 = time.perf_counter()
    it = 0
    first = try_lp(inst, pool)
    lp = first if isinstance(first, LPResult) else None
    if lp is None:
        ok, lp1, it1 = phase1(inst, pool, pricer, deadline)
        it += it1
        if not ok:
            return CGResult(-np.inf, lp1, lp1.duals, it, infeasible=True, certificate=certificate(inst, pool, lp1),
                            timings={"cg": time.perf_counter() - t0})
        lp = solve_lp(inst, pool)
    master_lp = MasterLP(inst, pool)
    best_lb = -np.inf
    center: Duals | None = None
    while True:
        it += 1
        out = lp.duals
        sep = out if center is None else center.combine(out, alpha)
        added = False
        while True:
            values, cols, _t, _c = pricer.price(sep, per_site=max_per_site)
            L = lagrangian(inst, values, sep)
            if L > best_lb:
                best_lb = L
                center = sep
            for i, col in enumerate(cols):
                for c in [col, *pricer.extra[i]]:
                    if c is not None and reduced_cost(c, out) < -RC_TOL * max(1.0, abs(lp.z)):
                        added |= pool.add(c)
            if added or sep is out:
                break
            sep = out  # mis-price: price at the LP duals, and smooth less from now on
            alpha *= 0.5
        if not added:
            break
        if time.perf_counter() > deadline:
            break
        lp = master_lp.solve()
    return CGResult(best_lb, lp, lp.duals, it, timings={"cg": time.perf_counter() - t0})


class MasterLP:
    """The phase-II master LP kept alive in one HiGHS instance: new pool columns are appended (and the cost of a
    column replaced by a cheaper one with the same signature is updated), so each re-solve starts from the previous
    basis (§6.7). Rows: sites (= 1), fleet (<= n_k), plugs (<= plugs_r), as in :func:`build_program`."""

    def __init__(self, inst: MessInstance, pool: Pool) -> None:
        import highspy

        self.inst, self.pool = inst, pool
        self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", False)
        n_s = len(inst.sites)
        fleet_cap, plug_cap = caps(inst)
        lo = np.concatenate([np.ones(n_s), np.full(fleet_cap.size + plug_cap.size, -np.inf)])
        hi = np.concatenate([np.ones(n_s), fleet_cap, plug_cap])
        self.n_rows = lo.size
        self.h.addRows(self.n_rows, lo, hi, 0, np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32),
                       np.zeros(0))
        self.costs: list[float] = []

    def sync(self) -> None:
        cols = self.pool.cols
        n0 = len(self.costs)
        for i in range(n0):  # in-place replacements (same signature, lower cost)
            if cols[i].cost != self.costs[i]:
                self.h.changeColCost(i, float(cols[i].cost))
                self.costs[i] = float(cols[i].cost)
        if len(cols) == n0:
            return
        n_s = len(self.inst.sites)
        starts: list[int] = []
        idx: list[int] = []
        val: list[float] = []
        for c in cols[n0:]:
            starts.append(len(idx))
            o = c.occ.reshape(-1)
            pl = c.plugs.reshape(-1)
            io = np.nonzero(o)[0]
            ip = np.nonzero(pl)[0]
            idx.extend([c.site, *(n_s + io).tolist(), *(n_s + o.size + ip).tolist()])
            val.extend([1.0, *o[io].astype(float).tolist(), *pl[ip].astype(float).tolist()])
        new = cols[n0:]
        cost = np.array([c.cost for c in new], dtype=float)
        self.h.addCols(len(new), cost, np.zeros(len(new)), np.full(len(new), np.inf), len(idx),
                       np.array(starts, dtype=np.int32), np.array(idx, dtype=np.int32), np.array(val, dtype=float))
        self.costs.extend(cost.tolist())

    def solve(self) -> LPResult:
        self.sync()
        self.h.run()
        status = str(self.h.getModelStatus()).split(".")[-1]
        if status != "kOptimal":
            raise SolverError(f"master LP: HiGHS status {status}")
        sol = self.h.getSolution()
        inst = self.inst
        K, J, R, S = len(inst.types), inst.n_steps, inst.n_res, inst.S
        n_s = len(inst.sites)
        d = np.asarray(sol.row_dual, dtype=float)
        pi = d[:n_s].copy()
        mu = np.minimum(d[n_s : n_s + K * J], 0.0).reshape(K, J)
        nu = np.minimum(d[n_s + K * J :], 0.0).reshape(R, S) if R else np.zeros((0, S))
        z = float(self.h.getInfo().objective_function_value)
        return LPResult(z, np.asarray(sol.col_value, dtype=float), Duals(pi, mu, nu))


def _lp_feasible(inst: MessInstance, pool: Pool) -> bool:
    p = build_program(inst, pool)
    sol = solve_highs(p)
    return sol.status == "optimal"


# ------------------------------------------------------------------------------------------- closure
class _Cap(Exception):
    pass


def _pred_index(g: tsdp.TSGraph) -> dict[tuple[int, int], list[tuple[int, int]]]:
    idx: dict[tuple[int, int], list[tuple[int, int]]] = {}
    a_s, j_s = np.nonzero(g.nsteps >= 0)
    for a, j in zip(a_s.tolist(), j_s.tolist(), strict=True):
        idx.setdefault((int(g.to[a]), j + int(g.nsteps[a, j])), []).append((a, j))
    return idx


def _enum_into(g: tsdp.TSGraph, td: TripDP, add: np.ndarray, src: np.ndarray, pred: dict, target: tuple[int, int, int],
               slack: float, tol: float) -> list[tuple[float, list[tuple[int, int, int]]]]:
    """All partial trips from a start into ``target`` with cost ≤ F(target) + slack, one (the cheapest) per
    signature (start step, plug uses)."""
    F = td.fw.F
    Ft = float(F[target])
    best: dict[tuple[int, tuple[tuple[int, int], ...]], tuple[float, list[tuple[int, int, int]]]] = {}
    memo: dict[tuple[int, int, int, tuple[tuple[int, int], ...]], float] = {}

    def rec(v: int, j: int, q: int, suf: float, path: list[tuple[int, int, int]],
            plugs: tuple[tuple[int, int], ...]) -> None:
        if np.isfinite(src[v, j, q]):
            tot = float(src[v, j, q]) + suf
            if tot <= Ft + slack + tol:
                key = (j, plugs)
                old = best.get(key)
                if old is None or tot - Ft < old[0] - 1e-12:
                    best[key] = (tot - Ft, path)
        for a, j0 in pred.get((v, j), ()):
            u = int(g.frm[a])
            for q0 in np.nonzero(g.qmap[a, j0] == q)[0].tolist():
                f = F[u, j0, q0]
                if f == np.inf:
                    continue
                c = td.w * float(g.cost[a, j0, q0]) + float(add[a, j0])
                if f + c + suf > Ft + slack + tol:
                    continue
                r = int(g.res[a])
                p2 = tuple(sorted(plugs + ((r, j0),))) if r >= 0 else plugs
                mk = (u, j0, q0, p2)
                if mk in memo and memo[mk] <= c + suf + 1e-12:
                    continue
                memo[mk] = c + suf
                rec(u, j0, q0, c + suf, [(a, j0, q0)] + path, p2)

    rec(*target, 0.0, [], ())
    return sorted(best.values(), key=lambda x: x[0])


def _enum_from(g: tsdp.TSGraph, td: TripDP, add: np.ndarray, sink: np.ndarray, out_arcs: list[list[int]],
               start: tuple[int, int, int], slack: float, tol: float) -> list[tuple[float, list[tuple[int, int, int]]]]:
    """All partial trips from ``start`` to a trip end with cost ≤ G(start) + slack, cheapest per signature
    (end step, plug uses)."""
    G = td.bw.G
    Gs = float(G[start])
    best: dict[tuple[int, tuple[tuple[int, int], ...]], tuple[float, list[tuple[int, int, int]]]] = {}
    memo: dict[tuple[int, int, int, tuple[tuple[int, int], ...]], float] = {}

    def rec(v: int, j: int, q: int, pre: float, path: list[tuple[int, int, int]],
            plugs: tuple[tuple[int, int], ...]) -> None:
        if np.isfinite(sink[v, j, q]) and path:
            tot = pre + float(sink[v, j, q])
            if tot <= Gs + slack + tol:
                key = (j, plugs)
                old = best.get(key)
                if old is None or tot - Gs < old[0] - 1e-12:
                    best[key] = (tot - Gs, path)
        for a in out_arcs[v]:
            n = int(g.nsteps[a, j])
            if n < 0:
                continue
            q2 = int(g.qmap[a, j, q])
            if q2 < 0:
                continue
            v2, j2 = int(g.to[a]), j + n
            gv = G[v2, j2, q2]
            if gv == np.inf:
                continue
            c = td.w * float(g.cost[a, j, q]) + float(add[a, j])
            if pre + c + gv > Gs + slack + tol:
                continue
            r = int(g.res[a])
            p2 = tuple(sorted(plugs + ((r, j),))) if r >= 0 else plugs
            mk = (v2, j2, q2, p2)
            if mk in memo and memo[mk] <= pre + c + 1e-12:
                continue
            memo[mk] = pre + c
            rec(v2, j2, q2, pre + c, path + [(a, j, q)], p2)

    rec(*start, 0.0, [], ())
    return sorted(best.values(), key=lambda x: x[0])


def _walk(site, delta: float, eb: float, j0: int, S: int):  # type: ignore[no-untyped-def]
    """Yield (j', acc, level) for every step after ``j0`` while the pack stays >= reserve; returns via
    StopIteration nothing. Also gives the end value through the last tuple with j' = -1."""
    import math as _m

    from tenflow.mess.instance import EPS as _E
    from tenflow.mess.instance import TOL_KWH as _T

    lv = int(_m.floor(eb / delta + _E))
    acc = 0.0
    alive = True
    for m in range(j0, S - 1):
        e1 = eb - (site.D[m + 1] - site.D[j0])
        if e1 < site.reserve_kwh - _T:
            alive = False
            break
        l1 = int(_m.floor(e1 / delta + _E))
        acc = acc + float(site.W[m, lv, lv - l1])
        lv = l1
        yield m + 1, acc, l1
    if alive:
        e_end = eb - (site.D[S - 1] - site.D[j0])
        if e_end >= site.endmin_kwh - _T:
            yield -1, acc - site.credit * e_end, -1


def enumerate_columns(inst: MessInstance, pool: Pool, duals: Duals, gamma: float, pricer: Pricer, *,
                      max_columns: int = 200000, deadline: float = float("inf"),
                      lb: float | None = None) -> tuple[int, bool]:
    """Closure (§6.2 step 6): add every chain whose reduced cost is ≤ (site minimum) + ``gamma``.

    DFS over chain skeletons (swap steps, types, delivered and removed levels) with exact completion bounds from a
    backward chain DP, then over the trip halves (paths into the site state / from the removal state) with the trip
    DP values as exact bounds; trips and chains are deduplicated by constraint signature (cheapest kept).
    Returns (columns added, complete); ``complete`` is False if ``max_columns`` or the deadline stopped it.
    ``lb`` (the bound that ``gamma`` was computed from, ``gamma = UB − lb``) lets the threshold be corrected to the
    Lagrangian bound of ``duals`` when that is lower (e.g. after a time-limited column generation).
    """
    trips = pricer.trips(duals, 1.0)
    # the threshold must hold for *these* duals: Γ_eff = max(Γ, UB − L(duals)) with UB = LB + Γ (Baldacci et al.)
    if np.isfinite(gamma) and lb is not None:
        values = [dp.chain_dp(inst, i, trips).value for i in range(len(inst.sites))]
        gamma = max(gamma, lb + gamma - lagrangian(inst, values, duals))
    S, Q, K = inst.S, inst.n_levels, len(inst.types)
    ns, delta = inst.n_sigma, inst.delta_kwh
    adds = [tsdp._arc_add(inst.types[k].graph, trips[k].prices) if trips[k] is not None else None  # type: ignore[union-attr]
            for k in range(K)]
    preds = [_pred_index(t.graph) for t in inst.types]
    outs = []
    for t in inst.types:
        lst: list[list[int]] = [[] for _ in range(t.graph.n_nodes)]
        for a in range(t.graph.n_arcs):
            lst[int(t.graph.frm[a])].append(a)
        outs.append(lst)
    srcs = [t.source(inst.idle) for t in inst.types]
    sinks = [t.sink(inst.depot) for t in inst.types]
    n_added = 0
    count = 0
    tol = 1e-7
    def process_site(i: int, site: Any) -> None:
        nonlocal n_added, count
        cd = dp.chain_dp(inst, i, trips)
        if not np.isfinite(cd.value):
            return
        bound = cd.value + gamma
        Fk = np.full((K, S, Q), np.inf)
        Gk = np.full((K, S, Q), np.inf)
        SW = np.full((K, S, Q), np.inf)
        for k, td in enumerate(trips):
            if td is not None and inst.types[k].serves[i]:
                Fk[k], Gk[k] = td.fw.F[site.node], td.bw.G[site.node]
                SW[k] = dp.swap_values(inst, k, i, td.prices, td.w)
        # backward chain values
        Vb = np.full((S, Q), np.inf)
        B = np.full((K, S), np.inf)

        def best_from(eb: float, j0: int) -> float:
            v = np.inf
            for jp, acc, l1 in _walk(site, delta, eb, j0, S):
                if jp == -1:
                    v = min(v, acc)
                    continue
                if jp - ns >= site.ws and jp - ns >= j0 and jp <= site.we:
                    for k in range(K):
                        v = min(v, acc + Gk[k, jp, l1] + B[k, jp])
            return v

        for j in range(S - 1, 0, -1):
            for q in range(Q):
                if np.isfinite(SW[:, max(j - ns, 0), q]).any() and j - ns >= 0:
                    Vb[j, q] = best_from(q * delta, j)
            if j - ns >= 0:
                B[:, j] = np.min(SW[:, j - ns, :] + Fk[:, j - ns, :] + Vb[j][None, :], axis=1)
        skeletons: list[tuple[float, list[tuple[int, int, int, int, int]]]] = []

        def dfs(prefix: float, eb: float, j0: int, swaps: list[tuple[int, int, int, int, int]]) -> None:
            if time.perf_counter() > deadline:
                raise _Cap
            for jp, acc, l1 in _walk(site, delta, eb, j0, S):
                if jp == -1:
                    if prefix + acc <= bound + tol:
                        skeletons.append((prefix + acc, list(swaps)))
                        if len(skeletons) > max_columns:
                            raise _Cap
                    continue
                if not (jp - ns >= site.ws and jp - ns >= j0 and jp <= site.we):
                    continue
                ja = jp - ns
                for k in range(K):
                    g = Gk[k, jp, l1]
                    if g == np.inf or prefix + acc + g + B[k, jp] > bound + tol:
                        continue
                    for q2 in range(Q):
                        v = prefix + acc + g + SW[k, ja, q2] + Fk[k, ja, q2]
                        if v + Vb[jp, q2] <= bound + tol:
                            dfs(v, q2 * delta, jp, swaps + [(k, ja, q2, jp, l1)])

        dfs(0.0, site.e0, 0, [])
        for tot, swaps in skeletons:
            slack = bound - tot
            halves: list[list[tuple[float, list[tuple[int, int, int]]]]] = []
            for k, ja, q2, jp, b in swaps:
                td = trips[k]
                ad = adds[k]
                assert td is not None and ad is not None
                g = inst.types[k].graph
                halves.append(_enum_into(g, td, ad, srcs[k], preds[k], (site.node, ja, q2), slack, tol))
                halves.append(_enum_from(g, td, ad, sinks[k], outs[k], (site.node, jp, b), slack, tol))

            def combine(h: int, extra: float, chosen: list[list[tuple[int, int, int]]],
                        halves: list = halves, swaps: list = swaps, slack: float = slack) -> None:
                nonlocal n_added, count
                if h == len(halves):
                    trips_l = []
                    for s_idx, (k, ja, q2, jp, b) in enumerate(swaps):
                        out, back = chosen[2 * s_idx], chosen[2 * s_idx + 1]
                        g = inst.types[k].graph
                        a_l, j_l, _ = back[-1]
                        trips_l.append(dp.Trip(k=k, j0=out[0][1], ja=ja, q_del=q2, js=jp, b=b,
                                               je=j_l + int(g.nsteps[a_l, j_l]), out=out, back=back))
                    col = dp.finish_column(inst, Column(site=i, trips=trips_l, origin="closure"))
                    count += 1
                    if pool.add(col):
                        n_added += 1
                    if count > max_columns:
                        raise _Cap
                    return
                for ex, path in halves[h]:
                    if extra + ex > slack + tol:
                        break
                    combine(h + 1, extra + ex, chosen + [path])

            combine(0, 0.0, [])
    try:
        for i, site in enumerate(inst.sites):
            process_site(i, site)
    except _Cap:
        return n_added, False
    return n_added, True
