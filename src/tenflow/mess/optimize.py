"""Exact MESS optimiser (mess.md §6.2): trip DPs + site-chain DP + Dantzig–Wolfe master + closure.

``solve(case, degradation=None, time_limit=60, ...) -> MessResult`` returns the plan, its cost J, a lower bound LB on
min J over all plans of P_Δ and the status: ``optimal`` (J − LB ≤ gap_abs), ``feasible`` (stopped with a plan) or
``no_solution``. Infeasible fleet/plugs raise :class:`tenflow.InfeasibleError` with the phase-I certificate; a site
without any feasible chain raises :class:`tenflow.CaseError` (E-UNREACHABLE, E-DEADLINE or E-SUPPLY).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tenflow.errors import CaseError, InfeasibleError, Issue
from tenflow.mess import dp, master
from tenflow.mess.dp import Column
from tenflow.mess.instance import KIND_CHARGE, KIND_NAMES, KIND_TRAVEL, MessInstance
from tenflow.mess.plan import ARC_COLUMNS, TRIP_COLUMNS, Plan


@dataclass
class MessResult:
    """Result of :func:`solve`."""

    plan: Plan
    status: str
    objective: float | None
    lb: float
    gap: float
    iterations: int
    columns: int
    timings: dict[str, float] = field(default_factory=dict)
    instance: MessInstance | None = None
    chains: list[Column] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def _hhmm(inst: MessInstance, j: float) -> str:
    m = int(round(float(inst.time_h(j)) * 60))
    return f"{m // 60:02d}:{m % 60:02d}"


def _pct(inst: MessInstance, kwh: float) -> str:
    pack = float(inst.info.get("pack_kwh", (inst.n_levels - 1) * inst.delta_kwh))
    return f"{100.0 * kwh / pack:.1f} %"


def best_route(inst: MessInstance, k: int, src: int, dst: int, e_start: float,
               max_expansions: int = 200000) -> tuple[list[int], float, int, float] | None:
    """Energy-best road route of type ``k`` from node ``src`` to ``dst`` ignoring ``soc_min`` and time (§8
    diagnostics): among simple paths it maximises the lowest pack energy reached after any leg (charging to
    ``soc_max`` at every charger passed, the start node included, each leg at its least-energy departure step,
    recuperation capped at
    ``soc_max``); ties by the higher arrival energy, then fewer legs. Returns (nodes, lowest energy, position of the
    lowest point in the path, arrival energy), or ``None`` without leg data or road path.
    """
    ty = inst.types[k]
    if ty.leg_kwh is None:
        return None
    delta = inst.delta_kwh
    cap = ty.qmax * delta
    adj: dict[int, list[tuple[int, float]]] = {}
    for (u, v), e in ty.leg_kwh.items():
        if np.isfinite(e).any():
            adj.setdefault(u, []).append((v, float(np.nanmin(e))))
    for lst in adj.values():
        lst.sort()
    g = ty.graph
    chg = {inst.depot if int(u) == inst.idle else int(u)
           for u, kd in zip(g.frm.tolist(), ty.kind.tolist(), strict=True) if kd == KIND_CHARGE}
    best: list[tuple[tuple[float, float, int], list[int], int]] = []
    n_exp = 0

    def rec(v: int, e: float, low: float, at: int, path: list[int]) -> None:
        nonlocal n_exp
        n_exp += 1
        if n_exp > max_expansions:
            return
        if v == dst:
            key = (low, e, -len(path))
            if not best or key > best[0][0]:
                best[:] = [(key, list(path), at)]
            return
        if best and low < best[0][0][0]:
            return
        e0 = max(e, cap) if v in chg else e
        for w, need in adj.get(v, []):
            if w in path:
                continue
            e1 = min(e0 - need, cap)
            lw, aw = (e1, len(path)) if e1 < low else (low, at)
            path.append(w)
            rec(w, e1, lw, aw, path)
            path.pop()

    rec(src, e_start, math.inf, 0, [src])
    if not best:
        return None
    (low, e_arr, _n), path, at = best[0]
    return path, low, at, e_arr


def _route_msg(inst: MessInstance, path: list[int], low: float, at: int, e_arr: float, qmin: int,
               tname: str | None) -> str:
    route = "→".join(str(inst.node_ids[v]) for v in path)
    smin = 100.0 * qmin / (inst.n_levels - 1)
    who = f" (type {tname})" if tname else ""
    if at == len(path) - 1:
        what = f"arrives with {_pct(inst, low)}"
    else:
        what = f"drops to {_pct(inst, low)} at node {inst.node_ids[path[at]]}"
    rel = "<" if low < qmin * inst.delta_kwh - 1e-9 else "≥"
    return f"best route {route}{who} {what} {rel} soc_min {smin:g} %"


def diagnose(inst: MessInstance, i: int, trips: list[dp.TripDP | None]) -> Issue:
    """Why site ``i`` has no feasible chain (§8: E-UNREACHABLE, E-DEADLINE, E-SUPPLY).

    E-UNREACHABLE names the energy-best route (:func:`best_route`) and its lowest SoC; E-SUPPLY gives the number of
    swaps that fit in the window and the bound on the energy they can deliver.
    """
    site = inst.sites[i]
    name = site.name
    ns = inst.n_sigma
    reach = [np.isfinite(td.fw.F[site.node]).any() if td is not None and inst.types[k].serves[i] else False
             for k, td in enumerate(trips)]
    serving = [k for k in range(len(inst.types)) if inst.types[k].serves[i]]
    multi = len(serving) > 1
    if not any(reach):
        ty = inst.types[0]
        tr = (ty.kind == KIND_TRAVEL) & (ty.graph.frm != inst.idle)
        adj: dict[int, set[int]] = {}
        for u, v in zip(ty.graph.frm[tr].tolist(), ty.graph.to[tr].tolist(), strict=True):
            adj.setdefault(u, set()).add(v)
        seen, stack = {inst.depot}, [inst.depot]
        while stack:
            for v in adj.get(stack.pop(), ()):
                if v not in seen:
                    seen.add(v)
                    stack.append(v)
        if site.node not in seen:
            return Issue(f"site {name}: no road path from depot {inst.node_ids[inst.depot]}", code="E-UNREACHABLE")
        cands = []
        for k in serving:
            t = inst.types[k]
            r = best_route(inst, k, inst.depot, site.node, t.qdep * inst.delta_kwh)
            if r is not None:
                cands.append(((r[1] - t.qmin * inst.delta_kwh, r[3]), k, r))
        if cands:
            _key, k, (path, low, at, e_arr) = max(cands, key=lambda c: (c[0], -c[1]))
            t = inst.types[k]
            msg = _route_msg(inst, path, low, at, e_arr, t.qmin, t.name if multi else None)
            if low >= t.qmin * inst.delta_kwh - 1e-9:
                msg += " at its leg ends, but it dips below soc_min inside a leg or misses the horizon"
            return Issue(f"site {name}: no energy-feasible trip: {msg}", code="E-UNREACHABLE")
        return Issue(f"site {name}: no energy-feasible trip: every route from depot {inst.node_ids[inst.depot]} "
                     f"(with charging) drops below soc_min or misses the horizon for every truck type",
                     code="E-UNREACHABLE")
    back = [np.isfinite(td.bw.G[site.node]).any() if td is not None and inst.types[k].serves[i] else False
            for k, td in enumerate(trips)]
    if not any(back):
        cands = []
        for k in serving:
            t = inst.types[k]
            r = best_route(inst, k, site.node, inst.depot, t.qmax * inst.delta_kwh)
            if r is not None:
                cands.append(((r[1] - t.qmin * inst.delta_kwh, r[3]), k, r))
        extra = ""
        if cands:
            _key, k, (path, low, at, e_arr) = max(cands, key=lambda c: (c[0], -c[1]))
            t = inst.types[k]
            extra = (": even leaving with a full pack, "
                     + _route_msg(inst, path, low, at, e_arr, t.qmin, t.name if multi else None))
        return Issue(f"site {name}: no energy-feasible return trip from the site to the depot{extra}",
                     code="E-UNREACHABLE")
    # earliest swap completion of any type
    first = math.inf
    q_best = -1
    for k, td in enumerate(trips):
        if td is None or not inst.types[k].serves[i]:
            continue
        fin = np.isfinite(td.fw.F[site.node])
        arr = np.nonzero(fin.any(axis=1))[0]
        arr = arr[arr >= site.ws]
        if arr.size:
            first = min(first, int(arr[0]) + ns)
            lv = np.nonzero(fin[site.ws : max(site.ws, site.we - ns + 1)].any(axis=0))[0]
            if lv.size:
                q_best = max(q_best, int(lv[-1]))
    e = site.e0 - (site.D - site.D[0])
    below = np.nonzero(e < site.reserve_kwh - 1e-7)[0]
    if below.size:
        jb = int(below[0])
        deadline = jb - 1  # last completion step at which the initial pack is still >= reserve
        if math.isinf(first) or first > deadline:
            if jb > 0 and e[jb - 1] > e[jb]:  # D is linear between grid points: exact crossing time
                frac = (e[jb - 1] - site.reserve_kwh) / (e[jb - 1] - e[jb])
                t_res = float(inst.time_h(jb - 1)) + frac * inst.dt_h
            else:
                t_res = float(inst.time_h(jb))
            m = int(round(t_res * 60))
            fs = ("no swap fits in the window" if math.isinf(first)
                  else f"the earliest swap completion is {_hhmm(inst, first)}")
            return Issue(f"site {name}: initial pack reaches reserve at {m // 60:02d}:{m % 60:02d} but {fs}",
                         code="E-DEADLINE")
    demand = float(site.D[-1] - site.D[0])
    win = f"{_hhmm(inst, site.ws)}–{_hhmm(inst, site.we)}"
    if math.isinf(first) or q_best < 0:
        return Issue(f"site {name}: demand {demand:.1f} kWh cannot be covered: no swap fits in the window {win}",
                     code="E-SUPPLY")
    # swaps at one site are sequential (arrival >= previous completion), the first arrives at first - n_σ
    n_max = max(0, (site.we - (first - ns)) // ns)
    # every swap exchanges a pack of <= q_best·δ for one with >= reserve; the last pack must keep endmin
    deliverable = site.e0 - site.endmin_kwh + n_max * (q_best * inst.delta_kwh - site.reserve_kwh)
    head = (f"site {name}: demand {demand:.1f} kWh cannot be covered: at most {n_max} swap"
            f"{'s' if n_max != 1 else ''} fit in the window {win} and deliverable energy is ≤ {deliverable:.1f} kWh")
    if deliverable >= demand - 1e-9:
        head += " (the swaps cannot be timed so that no pack drops below the reserve)"
    return Issue(head, code="E-SUPPLY")


def assign_trucks(inst: MessInstance, cols: list[Column]) -> list[tuple[Column, dp.Trip, str]]:
    """Trips to individual trucks: per type greedily by start step, lowest free id first (interval graphs)."""
    out: list[tuple[Column, dp.Trip, str]] = []
    items = sorted(((t.k, t.j0, t.je, inst.sites[c.site].node, c, t) for c in cols for t in c.trips),
                   key=lambda x: (x[0], x[1], x[2], x[3]))
    busy: dict[int, list[int]] = {k: [0] * ty.count for k, ty in enumerate(inst.types)}
    for k, j0, je, _node, c, t in items:
        free = [n for n, until in enumerate(busy[k]) if until <= j0]
        if not free:
            raise InfeasibleError(f"internal: no free truck of type {inst.types[k].name} at step {j0}")
        n = free[0]
        busy[k][n] = je
        out.append((c, t, str(inst.types[k].truck_ids[n])))
    out.sort(key=lambda x: (x[1].j0, x[1].k, inst.sites[x[0].site].node, x[1].je))
    return out


def _arc_row(inst: MessInstance, k: int, n: int, seq: int, a: int, j: int, q: int) -> dict[str, Any]:
    ty = inst.types[k]
    g = ty.graph
    kind = int(ty.kind[a])
    ch = inst.charger_nodes[int(ty.charger[a])] if kind == KIND_CHARGE else ""
    return dict(trip=n, seq=seq, kind=KIND_NAMES[kind], frm=inst.node_label(int(g.frm[a])),
                to=inst.node_label(int(g.to[a])), j_from=j, j_to=j + int(g.nsteps[a, j]), q_from=q,
                q_to=int(g.qmap[a, j, q]), charger=ch)


def build_plan(inst: MessInstance, cols: list[Column], method: str = "optimized", status: str = "optimal",
               objective: float | None = None, lb: float | None = None) -> Plan:
    """The :class:`~tenflow.mess.plan.Plan` tables of a set of chains (one per site)."""
    trips_rows: list[dict[str, Any]] = []
    arc_rows: list[dict[str, Any]] = []
    for n, (c, t, truck) in enumerate(assign_trucks(inst, cols)):
        ty = inst.types[t.k]
        g = ty.graph
        site_id = inst.node_ids[inst.sites[c.site].node]
        last = t.back[-1]
        q_end = int(g.qmap[last[0], last[1], last[2]])
        trips_rows.append(dict(trip=n, type=ty.name, truck=truck, site=site_id, j_start=t.j0, j_arrive=t.ja,
                               j_swap_end=t.js, j_end=t.je, q_start=ty.qdep, q_delivered=t.q_del, q_removed=t.b,
                               q_end=q_end))
        seq = 0
        for a, j, q in t.out:
            arc_rows.append(_arc_row(inst, t.k, n, seq, a, j, q))
            seq += 1
        arc_rows.append(dict(trip=n, seq=seq, kind="swap", frm=site_id, to=site_id, j_from=t.ja, j_to=t.js,
                             q_from=t.q_del, q_to=t.b, charger=""))
        seq += 1
        for a, j, q in t.back:
            arc_rows.append(_arc_row(inst, t.k, n, seq, a, j, q))
            seq += 1
    trips = pd.DataFrame(trips_rows, columns=TRIP_COLUMNS)
    arcs = pd.DataFrame(arc_rows, columns=ARC_COLUMNS)
    return Plan(method, trips, arcs, status, objective, lb)


def columns_from_plan(inst: MessInstance, plan: Plan) -> list[Column] | None:
    """The site chains of a plan (e.g. a baseline) as master columns; ``None`` if the plan is not a plan of
    this instance's P_Δ (an arc not in the graphs, a level map or step count that differs)."""
    if plan.trips is None or plan.status not in ("optimal", "feasible"):
        return None
    tname = {t.name: k for k, t in enumerate(inst.types)}
    nidx = {str(v): i for i, v in enumerate(inst.node_ids)}
    sidx = {str(inst.node_ids[s.node]): i for i, s in enumerate(inst.sites)}
    chains: dict[int, list[dp.Trip]] = {i: [] for i in range(len(inst.sites))}
    for _, tr in plan.trips.iterrows():
        k = tname.get(str(tr["type"]))
        i = sidx.get(str(tr["site"]))
        if k is None or i is None:
            return None
        ty = inst.types[k]
        g = ty.graph
        arcs = plan.arcs[plan.arcs["trip"] == tr["trip"]].sort_values("seq")
        out: list[tuple[int, int, int]] = []
        back: list[tuple[int, int, int]] = []
        swap = None
        for n_arc, (_, r) in enumerate(arcs.iterrows()):
            kind = str(r["kind"])
            j, q, j2, q2 = int(r["j_from"]), int(r["q_from"]), int(r["j_to"]), int(r["q_to"])
            if kind == "swap":
                swap = (j, q, j2, q2)
                continue
            u = inst.idle if n_arc == 0 else nidx.get(str(r["frm"]), -1)
            v = nidx.get(str(r["to"]), -1)
            code = {"travel": KIND_TRAVEL, "wait": 1, "charge": KIND_CHARGE}.get(kind, -9)
            cand = np.nonzero((g.frm == u) & (g.to == v) & (ty.kind == code))[0]
            hit = [int(a) for a in cand if 0 <= j < inst.S and int(g.nsteps[a, j]) == j2 - j
                   and int(g.qmap[a, j, q]) == q2
                   and (code != KIND_CHARGE or str(inst.charger_nodes[int(ty.charger[a])]) == str(r["charger"]))]
            if not hit:
                return None
            (back if swap is not None else out).append((hit[0], j, q))
        if swap is None or not out or not back:
            return None
        a_l, j_l, _q = back[-1]
        chains[i].append(dp.Trip(k=k, j0=out[0][1], ja=swap[0], q_del=swap[1], js=swap[2], b=swap[3],
                                 je=j_l + int(g.nsteps[a_l, j_l]), out=out, back=back))
    return [dp.finish_column(inst, Column(site=i, trips=sorted(ts, key=lambda t: t.js), origin="plan"))
            for i, ts in chains.items()]


def solve_instance(inst: MessInstance, *, time_limit: float = 60.0, gap_abs: float = 1e-6,
                   max_enum_columns: int = 200000, extra_columns: list[Column] | None = None,
                   numba: bool | None = None, alpha: float = 0.3,
                   fallback_columns: Callable[[], list[Column]] | None = None) -> MessResult:
    """Solve P_Δ given as arrays (§6.2 steps 2–6).

    ``fallback_columns`` (e.g. the chains of the baseline plans) are added to the pool when the proof of optimality
    does not finish (time limit, enumeration cap), so that the plan returned is never worse than them.
    """
    t_start = time.perf_counter()
    deadline = t_start + float(time_limit)
    timings: dict[str, float] = {}
    # step 2: single-site check with zero duals and unbounded fleet
    trips, _cds, cols = dp.solve_uncoupled(inst, numba=numba, mapper=master._map)
    issues = [diagnose(inst, i, trips) for i, c in enumerate(cols) if c is None]
    if issues:
        raise CaseError(issues)
    pool = master.Pool(inst)
    for c in cols:
        assert c is not None
        c.origin = "uncoupled"
        pool.add(c)
    # step 3: each site's best chain restricted to each single type; given extra columns (baselines)
    if len(inst.types) > 1:
        # a site whose uncoupled best chain uses type k only already has its best type-k chain in the pool
        onlys: list[list[dp.TripDP | None]] = [[td if kk == k else None for kk, td in enumerate(trips)]
                                               for k in range(len(inst.types))]
        pairs = [(k, i) for k in range(len(inst.types)) for i, c in enumerate(cols)
                 if inst.types[k].serves[i] and c is not None and any(t.k != k for t in c.trips)]
        cds_k = master._map(lambda p: dp.chain_dp(inst, p[1], onlys[p[0]], numba=numba), pairs)
        for (k, _i), cd in zip(pairs, cds_k, strict=True):
            c = dp.trace_chain(inst, cd, onlys[k])
            if c is not None:
                c.origin = f"type-{inst.types[k].name}"
                pool.add(c)
    for c in extra_columns or []:
        pool.add(c)
    timings["uncoupled"] = time.perf_counter() - t_start
    # step 4: column generation
    pricer = master.Pricer(inst, numba=numba)
    pricer.seed(trips)
    t1 = time.perf_counter()
    cg = master.column_generation(inst, pool, pricer, alpha=alpha, deadline=deadline)
    timings["column_generation"] = time.perf_counter() - t1
    if cg.infeasible:
        raise InfeasibleError(f"{inst.name}: no plan satisfies the fleet and plug limits (phase-I certificate)",
                              cg.certificate)
    lb = float(cg.lb)
    # step 5: integer master over the pool
    t2 = time.perf_counter()
    st, ub, x = master.solve_ip(inst, pool, time_limit=max(1.0, deadline - time.perf_counter()))
    timings["integer_master"] = time.perf_counter() - t2
    status = "optimal"
    closure_info: dict[str, Any] = {}
    if st not in ("optimal", "feasible") or ub - lb > gap_abs:
        # step 6: closure by enumeration of all columns with reduced cost <= UB - LB
        t3 = time.perf_counter()
        gamma = (ub - lb) if st in ("optimal", "feasible") else math.inf
        n_new, complete = master.enumerate_columns(inst, pool, cg.duals, gamma + 1e-7, pricer,
                                                   max_columns=max_enum_columns, deadline=deadline, lb=lb)
        closure_info = {"gamma": gamma, "enumerated": n_new, "complete": complete}
        st2, ub2, x2 = master.solve_ip(inst, pool, time_limit=max(1.0, deadline - time.perf_counter()))
        timings["closure"] = time.perf_counter() - t3
        if st2 in ("optimal", "feasible"):
            st, ub, x = st2, ub2, x2
            if complete and st2 == "optimal":
                lb = ub  # every column of an optimal integer solution is in the pool
                status = "optimal"
            else:
                status = "feasible"
        elif complete:
            raise InfeasibleError(f"{inst.name}: the fleet and plug limits admit no integer plan "
                                  "(all chains enumerated)", [])
        else:
            status = "no_solution"
    if status != "optimal" and fallback_columns is not None:
        added = [c for c in fallback_columns() if pool.add(c)]
        if added:
            st3, ub3, x3 = master.solve_ip(inst, pool, time_limit=max(5.0, deadline - time.perf_counter()))
            if st3 in ("optimal", "feasible") and (status == "no_solution" or ub3 < ub - 1e-9):
                x, ub = x3, ub3
                status = "feasible"
    if status == "no_solution":
        return MessResult(Plan.empty("optimized", "no_solution"), "no_solution", None, lb, math.inf, cg.iterations,
                          len(pool.cols), timings, inst, [], closure_info)
    chosen = [pool.cols[p] for p in np.nonzero(x > 0.5)[0]]
    chosen.sort(key=lambda c: c.site)
    objective = float(sum(c.cost for c in chosen) + inst.const)
    lb_total = min(lb + inst.const, objective)
    gap = objective - lb_total
    if gap > gap_abs and status == "optimal":
        status = "feasible"
    plan = build_plan(inst, chosen, "optimized", status, objective, lb_total)
    timings["total"] = time.perf_counter() - t_start
    info = {"dp_passes": pricer.n_dp, **closure_info}
    return MessResult(plan, status, objective, lb_total, gap, cg.iterations, len(pool.cols), timings, inst,
                      chosen, info)


def solve(case: Any, degradation: str | None = None, time_limit: float = 60.0, *, gap_abs: float | None = None,
          step_min: float | None = None, soc_bucket: float | None = None, numba: bool | None = None,
          extra_columns: list[Column] | None = None, **kwargs: Any) -> MessResult:
    """Solve a MESS case exactly (mess.md §6.2); ``case`` is a MessCase, a case name/path or a MessInstance."""
    if isinstance(case, MessInstance):
        inst = case
        gap = 1e-6 if gap_abs is None else gap_abs
        max_enum = 200000
    else:
        from tenflow.mess.instance import build_instance, load_case_any

        mc = load_case_any(case)
        inst = build_instance(mc, degradation=degradation, step_min=step_min, soc_bucket=soc_bucket)
        solver_cfg = mc.config.get("solver", {})
        gap = float(solver_cfg.get("gap_abs", 1e-6)) if gap_abs is None else gap_abs
        max_enum = int(solver_cfg.get("max_enum_columns", 200000))
        if "fallback_columns" not in kwargs:
            kwargs["fallback_columns"] = lambda: _baseline_columns(mc, inst, degradation)
    return solve_instance(inst, time_limit=time_limit, gap_abs=gap, max_enum_columns=max_enum,
                          extra_columns=extra_columns, numba=numba, **kwargs)


def _baseline_columns(case: Any, inst: MessInstance, degradation: str | None) -> list[Column]:
    """Chains of the feasible ``nearest`` / ``shortest`` baseline plans (§6.2 step 3), as columns."""
    from tenflow.mess.baselines import baseline

    out: list[Column] = []
    for method in ("nearest", "shortest"):
        try:
            plan = baseline(case, method, degradation)
        except Exception:  # noqa: BLE001 - a baseline that fails is simply not used
            continue
        cols = columns_from_plan(inst, plan)
        if cols:
            for c in cols:
                c.origin = method
            out.extend(cols)
    return out


def warmup() -> float:
    """Compile (or load from the numba cache) the DP kernels by solving ``mess-tiny``; returns seconds taken."""
    t0 = time.perf_counter()
    solve("mess-tiny")
    return time.perf_counter() - t0
