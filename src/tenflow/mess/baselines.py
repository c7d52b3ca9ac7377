"""Baseline plans ``nearest`` and ``shortest`` (mess.md §6.5), inside P_Δ and costed by the same evaluator.

Both schedule swaps **just in time**. A queue holds every site whose installed pack does not last to work end,
keyed by its deadline (the last grid step at which a swap may complete without the pack falling below its reserve,
capped by the window end; ties: direct depot distance, then node id). The head site is served by the first truck
(id order) that has a feasible candidate trip; each candidate route gets its latest start step such that the swap
completes by the deadline and the truck is idle for the whole trip; the cheapest candidate (trip cost under §6.1 at
its own start) is taken. Reading of "just in time" implemented here: a truck qualifies if it is idle for the trip
started at the candidate's latest feasible start (ignoring the truck's other trips); only if no truck qualifies are
earlier starts inside a truck's idle time used (otherwise the first truck in id order would pull swaps far ahead of
their deadlines into its idle time before an earlier-assigned trip). Trucks start at ``s_dep``; charging starts on arrival. A delivered pack must have SoC ≥
``baselines.min_delivery_soc``. After a swap the site re-enters the queue with the deadline of its new pack, until
the installed pack lasts to work end. A site that cannot be served makes the baseline ``infeasible`` with the site
and the reason.

* ``nearest`` (the prototype's rule set): outbound = depot→site, or depot→c→site through one charger c (both arcs
  exist) charging at c up to ``charge_to``; return = site→depot or site→c→depot charging at c up to ``charge_to``,
  then at the depot up to ``s_dep`` (without a depot charger the candidate must arrive at ≥ ``s_dep``, charging at c
  as needed up to ``soc_max``). Ties: direct first, then charger list order.
* ``shortest``: shortest-km paths (ties: fewer arcs, then node ids); along the path charge at each charger only the
  minimum needed to reach the next charger or the destination requirement (site: ``min_delivery_soc``; depot:
  ``s_dep`` without a depot charger, else ``soc_min`` then depot charging); if the shortest path cannot be made
  feasible, the next shortest simple paths are tried (up to 50, exact k-shortest order).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tenflow.errors import TenflowError
from tenflow.mess.case import MessCase
from tenflow.mess.evaluate import TOL_KWH, EvalContext, TypeInfo, level_ceil, level_floor, replay_arcs
from tenflow.mess.plan import ARC_COLUMNS, TRIP_COLUMNS, Plan

METHODS = ("nearest", "shortest")
MAX_PATHS = 50

#: one arc: (kind, frm_key, to_key, j_from, j_to, q_from, q_to, charger)
Arc = tuple[str, str, str, int, int, int, int, str]


@dataclass
class BaselineResult:
    """A baseline plan with its status (``feasible`` | ``infeasible``) and the reason of infeasibility."""

    plan: Plan
    status: str
    reason: str = ""
    unserved: list[Any] = field(default_factory=list)


class _Sim:
    """Grid simulator of one truck type's legs and charging (rules of §6.1), with caches."""

    def __init__(self, ctx: EvalContext, ti: TypeInfo) -> None:
        self.ctx = ctx
        self.ti = ti
        self._leg: dict[tuple[str, str, int], tuple[int, np.ndarray, np.ndarray]] = {}
        self.L = ctx.L

    def travel(self, u: str, v: str, j: int, q: int) -> tuple[int, int] | None:
        """Arrival (step, level) of arc u→v departing at step j with level q, or None if infeasible."""
        key = (u, v, j)
        rec = self._leg.get(key)
        ctx, ti = self.ctx, self.ti
        if rec is None:
            lg = ctx.legs.leg(ti.name, ctx.node_by_key[u], ctx.node_by_key[v], float(ctx.t(j)))
            n = int(level_ceil(lg.duration_h / ctx.dt))
            e0 = np.arange(self.L + 1, dtype=float) * ti.delta
            end, low = lg.integrate(e0)
            qe = level_floor(end / ti.delta)
            ok = (low >= ti.qmin * ti.delta - TOL_KWH) & (np.arange(self.L + 1) <= ti.qmax)
            rec = (n, qe, ok)
            self._leg[key] = rec
        n, qe, ok = rec
        if j + n > ctx.J or not ok[q]:
            return None
        return j + n, int(qe[q])

    def cap_q(self, charger: str) -> int:
        ch = self.ctx.chargers[charger]
        p = min(ch.power_kw, self.ti.max_charge_kw)
        return int(level_floor(p * ch.efficiency * self.ctx.dt / self.ti.delta))

    def charge(self, node: str, charger: str, j: int, q: int, target: int, arcs: list[Arc]) -> tuple[int, int] | None:
        """Charge at ``charger`` from level q up to ``target`` (one arc per step); None if impossible."""
        target = min(target, self.ti.qmax)
        if q >= target:
            return j, q
        cap = self.cap_q(charger)
        if cap <= 0:
            return None
        while q < target:
            if j + 1 > self.ctx.J:
                return None
            q1 = min(target, q + cap)
            arcs.append(("charge", node, node, j, j + 1, q, q1, charger))
            j, q = j + 1, q1
        return j, q


def _charger_key(ctx: EvalContext, node: str) -> str | None:
    if node == ctx.depot_key:
        return "depot" if "depot" in ctx.chargers else None
    return node if node in ctx.chargers else None


# ----------------------------------------------------------------------------------------------------------
# route candidates
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    """A node path and the charging rule at its interior chargers: ``to`` (charge up to a target) or ``min``."""

    nodes: tuple[str, ...]
    rule: str  # "to" (nearest) | "min" (shortest)


def _simple_paths(ctx: EvalContext, src: str, dst: str, limit: int = MAX_PATHS) -> list[tuple[str, ...]]:
    """The ``limit`` shortest simple paths src→dst by (km, number of arcs, node ids) — exact, by best-first
    search over partial simple paths (lengths are positive, so partial paths are popped in non-decreasing km)."""
    succ: dict[str, list[tuple[str, float]]] = {}
    for (a, b), d in ctx.arc_km.items():
        succ.setdefault(a, []).append((b, d))
    for a in succ:
        succ[a].sort(key=lambda x: _sort_key(x[0]))
    heap: list[tuple[float, int, tuple[Any, ...], tuple[str, ...]]] = [(0.0, 0, (_sort_key(src),), (src,))]
    out: list[tuple[str, ...]] = []
    pops = 0
    while heap and len(out) < limit and pops < 200000:
        km, n, keyt, path = heapq.heappop(heap)
        pops += 1
        u = path[-1]
        if u == dst:
            out.append(path)
            continue
        for v, d in succ.get(u, []):
            if v in path:
                continue
            heapq.heappush(heap, (round(km + d, 9), n + 1, (*keyt, _sort_key(v)), (*path, v)))
    return out


def _sort_key(node: str) -> tuple[int, int, str]:
    return (0, int(node), node) if node.lstrip("-").isdigit() else (1, 0, node)


def _nearest_routes(ctx: EvalContext, site: str) -> tuple[list[Route], list[Route]]:
    d = ctx.depot_key
    chargers = [k for k in ctx.chargers if k != "depot"]
    out = [Route((d, site), "to")] if (d, site) in ctx.arc_km else []
    ret = [Route((site, d), "to")] if (site, d) in ctx.arc_km else []
    for c in chargers:
        if (d, c) in ctx.arc_km and (c, site) in ctx.arc_km:
            out.append(Route((d, c, site), "to"))
        if (site, c) in ctx.arc_km and (c, d) in ctx.arc_km:
            ret.append(Route((site, c, d), "to"))
    return out, ret


def _shortest_routes(ctx: EvalContext, site: str) -> tuple[list[Route], list[Route]]:
    d = ctx.depot_key
    return ([Route(p, "min") for p in _simple_paths(ctx, d, site)],
            [Route(p, "min") for p in _simple_paths(ctx, site, d)])


# ----------------------------------------------------------------------------------------------------------
# simulation of route halves
# ----------------------------------------------------------------------------------------------------------
class _Planner:
    def __init__(self, ctx: EvalContext, method: str) -> None:
        self.ctx = ctx
        self.method = method
        self.sims = {k: _Sim(ctx, ti) for k, ti in ctx.types.items()}
        cfg = ctx.case.config["baselines"]
        self.q_deliv = int(level_ceil(float(cfg["min_delivery_soc"]) * ctx.L))
        self.q_to = int(level_floor(float(cfg["charge_to"]) * ctx.L))
        self.routes: dict[str, tuple[list[Route], list[Route]]] = {}
        self._out: dict[tuple[str, Route, int], tuple[int, int, list[Arc]] | None] = {}
        self._ret: dict[tuple[str, Route, int, int], tuple[int, int, list[Arc]] | None] = {}

    def site_routes(self, site: str) -> tuple[list[Route], list[Route]]:
        r = self.routes.get(site)
        if r is None:
            r = _nearest_routes(self.ctx, site) if self.method == "nearest" else _shortest_routes(self.ctx, site)
            self.routes[site] = r
        return r

    def _drive(self, sim: _Sim, route: Route, j: int, q: int, final_req: int, arcs: list[Arc],
               at_depot_end: bool) -> tuple[int, int] | None:
        """Drive ``route`` from (j, q), charging at interior chargers; arrive with level ≥ final_req."""
        nodes = route.nodes
        ctx = self.ctx
        stops = [i for i in range(1, len(nodes) - 1) if _charger_key(ctx, nodes[i]) is not None]
        i = 0
        while i < len(nodes) - 1:
            u = nodes[i]
            ck = _charger_key(ctx, u) if 0 < i else None
            if ck is not None and i in stops:
                nxt = next((s for s in stops if s > i), len(nodes) - 1)
                req = final_req if nxt == len(nodes) - 1 else sim.ti.qmin
                tgt: int | None = self.q_to
                if route.rule != "to" or (at_depot_end and "depot" not in ctx.chargers):
                    tgt = self._min_target(sim, route, i, nxt, j, q, req, ck, lo=q if route.rule != "to" else self.q_to)
                if tgt is None:
                    return None
                target = tgt
                r = sim.charge(u, ck, j, q, target, arcs)
                if r is None:
                    return None
                j, q = r
            r2 = sim.travel(u, nodes[i + 1], j, q)
            if r2 is None:
                return None
            arcs.append(("travel", u, nodes[i + 1], j, r2[0], q, r2[1], ""))
            j, q = r2
            i += 1
        if q < final_req:
            return None
        return j, q

    def _min_target(self, sim: _Sim, route: Route, i: int, nxt: int, j: int, q: int, req: int, ck: str,
                    lo: int) -> int | None:
        """Smallest charge target at node i (≥ lo) with which the legs i…nxt are feasible and arrive ≥ req."""
        for target in range(max(lo, q), sim.ti.qmax + 1):
            tmp: list[Arc] = []
            r = sim.charge(route.nodes[i], ck, j, q, target, tmp)
            if r is None:
                return None
            jj, qq = r
            ok = True
            for m in range(i, nxt):
                r2 = sim.travel(route.nodes[m], route.nodes[m + 1], jj, qq)
                if r2 is None:
                    ok = False
                    break
                jj, qq = r2
            if ok and qq >= req:
                return target
        return None

    def outbound(self, typ: str, route: Route, j0: int) -> tuple[int, int, list[Arc]] | None:
        """(arrival step, delivered level, arcs) of the outbound half starting at the depot at j0 with q_dep."""
        key = (typ, route, j0)
        if key in self._out:
            return self._out[key]
        sim = self.sims[typ]
        arcs: list[Arc] = []
        r = self._drive(sim, route, j0, sim.ti.qdep, self.q_deliv, arcs, at_depot_end=False)
        res = None if r is None else (r[0], r[1], arcs)
        self._out[key] = res
        return res

    def inbound(self, typ: str, route: Route, js: int, b: int) -> tuple[int, int, list[Arc]] | None:
        """(end step, end level, arcs) of the return half from the site at js with level b."""
        key = (typ, route, js, b)
        if key in self._ret:
            return self._ret[key]
        ctx = self.ctx
        sim = self.sims[typ]
        arcs: list[Arc] = []
        has_dep = "depot" in ctx.chargers
        req = sim.ti.qmin if has_dep else sim.ti.qdep
        res = None
        if b >= sim.ti.qmin:
            r = self._drive(sim, route, js, b, req, arcs, at_depot_end=True)
            if r is not None:
                j, q = r
                if q < sim.ti.qdep:
                    r = sim.charge(ctx.depot_key, "depot", j, q, sim.ti.qdep, arcs) if has_dep else None
                if r is not None and r[1] >= sim.ti.qdep:
                    res = (r[0], r[1], arcs)
        self._ret[key] = res
        return res


# ----------------------------------------------------------------------------------------------------------
def _deadline(ctx: EvalContext, skey: str, e: float, j_inst: int) -> int:
    """Last grid step j ≤ window end with e − (D(t_j) − D(t_inst)) ≥ reserve (−1 if none ≥ j_inst)."""
    si = ctx.sites[skey]
    we = ctx.step_of(si.we, up=False)
    jj = np.arange(j_inst, min(we, ctx.J) + 1)
    if len(jj) == 0:
        return -1
    D = si.demand.D(ctx.t(jj))
    ok = e - (D - float(si.demand.D(ctx.t(j_inst)))) >= si.reserve_kwh - TOL_KWH
    idx = np.flatnonzero(ok)
    if len(idx) == 0:
        return -1
    # energy is non-increasing: the feasible steps form a prefix
    return int(jj[idx[-1]])


def _lasts(ctx: EvalContext, skey: str, e: float, j_inst: int) -> bool:
    si = ctx.sites[skey]
    left = e - (float(si.demand.D(si.work_end)) - float(si.demand.D(ctx.t(j_inst))))
    return left >= si.end_kwh - TOL_KWH


def run_baseline(case: MessCase, method: str, degradation: str | None = None, *,
                 ctx: EvalContext | None = None) -> BaselineResult:
    """Build the ``nearest`` or ``shortest`` baseline plan of mess.md §6.5.

    Parameters
    ----------
    case
        The case (grid options taken from its config).
    method
        ``"nearest"`` or ``"shortest"``.
    degradation
        Degradation model used to cost candidate trips (default ``battery.model``).
    ctx
        Optional prebuilt :class:`~tenflow.mess.evaluate.EvalContext`.
    """
    if method not in METHODS:
        raise TenflowError(f"unknown baseline '{method}' (choose from {', '.join(METHODS)})")
    if ctx is None:
        ctx = EvalContext(case, degradation)
    pl = _Planner(ctx, method)
    n_sigma = ctx.n_sigma
    # truck id order (numeric ids numerically)
    trucks = sorted(ctx.truck_type, key=_sort_key)
    busy: dict[str, list[tuple[int, int]]] = {k: [] for k in trucks}
    # site state: (energy installed, install step)
    state = {k: (si.e0, 0) for k, si in ctx.sites.items()}
    heap: list[tuple[int, float, tuple[int, int, str], str]] = []

    def push(skey: str) -> bool:
        e, j = state[skey]
        if _lasts(ctx, skey, e, j):
            return True
        dl = _deadline(ctx, skey, e, j)
        km = ctx.arc_km.get((ctx.depot_key, skey), math.inf)
        heapq.heappush(heap, (dl, km, _sort_key(skey), skey))
        return True

    for k in ctx.sites:
        push(k)
    trips: list[tuple[str, str, str, list[Arc]]] = []  # (type, truck, site, arcs)
    while heap:
        dl, _, _, skey = heapq.heappop(heap)
        si = ctx.sites[skey]
        e, j_inst = state[skey]
        ws = max(ctx.step_of(si.ws, up=True), j_inst)
        if dl < 0 or dl < ws + n_sigma:
            return _infeasible(method, trips, skey, f"site {si.node}: the installed pack reaches its reserve "
                               f"before a swap can complete (deadline step {dl}, earliest completion "
                               f"{ws + n_sigma})")
        outs, rets = pl.site_routes(skey)
        if not outs or not rets:
            return _infeasible(method, trips, skey, f"site {si.node}: no {method} route from/to the depot")
        chosen = None
        # pass 1 (just in time): a truck qualifies if it is idle for the whole trip started at the candidate's
        # latest feasible start; pass 2 (only if no truck qualifies): earlier starts in the truck's idle time
        for strict in (True, False):
            for truck in trucks:
                typ = ctx.truck_type[truck]
                ti = ctx.types[typ]
                if abs(ti.pack_kwh - si.pack_kwh) > 1e-9:
                    continue
                cands: list[tuple[int, list[Arc]]] = []
                for ro in outs:
                    for rr in rets:
                        c = _latest(ctx, pl, typ, ti, ro, rr, skey, e, j_inst, ws, dl, busy[truck], strict)
                        if c is not None:
                            cands.append(c)
                    if method == "shortest" and cands:
                        break  # the first (shortest) feasible outbound path
                if cands:
                    costs = _trip_costs(ctx, typ, truck, skey, [c[1] for c in cands])
                    best = int(np.argmin(costs))  # first wins on ties (direct, then charger order)
                    chosen = (truck, typ, cands[best][1])
                    break
            if chosen is not None:
                break
        if chosen is None:
            # would an idle truck manage? then the fleet is the bottleneck
            free = any(_latest(ctx, pl, typ, ti, ro, rr, skey, e, j_inst, ws, dl, [], True) is not None
                       for typ, ti in ctx.types.items() if abs(ti.pack_kwh - si.pack_kwh) <= 1e-9
                       for ro in outs for rr in rets)
            if free:
                return _infeasible(method, trips, skey, f"site {si.node}: all {len(trucks)} trucks are busy when a "
                                   f"swap must complete between {_hhmm(ctx, j_inst)} and {_hhmm(ctx, dl)}")
            return _infeasible(method, trips, skey, _diagnose(ctx, pl, skey, dl, j_inst))
        truck, typ, arcs = chosen
        trips.append((typ, truck, skey, arcs))
        busy[truck].append((arcs[0][3], arcs[-1][4]))
        sw = next(a for a in arcs if a[0] == "swap")
        state[skey] = (sw[5] * ctx.types[typ].delta, sw[4])
        push(skey)
    plan = _to_plan(ctx, method, trips, "feasible")
    return BaselineResult(plan, "feasible")


def _diagnose(ctx: EvalContext, pl: _Planner, skey: str, dl: int, j_inst: int) -> str:
    """Reason why no truck can serve ``skey`` by step ``dl``: energy (no route delivers ``min_delivery_soc``; best
    deliverable SoC) or time/fleet."""
    si = ctx.sites[skey]
    outs, _ = pl.site_routes(skey)
    need = pl.q_deliv * 100 // ctx.L
    best: tuple[int, tuple[str, ...]] | None = None
    for sim in pl.sims.values():
        if abs(sim.ti.pack_kwh - si.pack_kwh) > 1e-9:
            continue
        for ro in outs:
            if pl._drive(sim, ro, sim.ti.a, sim.ti.qdep, pl.q_deliv, [], at_depot_end=False) is not None:
                return (f"site {si.node}: no truck can complete a swap between {_hhmm(ctx, j_inst)} (previous "
                        f"swap) and {_hhmm(ctx, dl)} (deadline of the installed pack) and return to the depot "
                        f"within its availability")
            r = pl._drive(sim, ro, sim.ti.a, sim.ti.qdep, sim.ti.qmin, [], at_depot_end=False)
            if r is not None and (best is None or r[1] > best[0]):
                best = (r[1], ro.nodes)
    if best is None:
        return f"site {si.node}: no energy-feasible {pl.method} route from the depot"
    return (f"site {si.node}: no {pl.method} route delivers SoC >= {need} % (best: {'→'.join(best[1])} "
            f"arrives with {best[0] * 100 // ctx.L} %)")


def _hhmm(ctx: EvalContext, j: int) -> str:
    m = int(round(float(ctx.t(j)) * 60))
    return f"{m // 60:02d}:{m % 60:02d}"


def _latest(ctx: EvalContext, pl: _Planner, typ: str, ti: TypeInfo, ro: Route, rr: Route, skey: str, e: float,
            j_inst: int, ws: int, dl: int, busy: list[tuple[int, int]],
            strict: bool = True) -> tuple[int, list[Arc]] | None:
    """Latest start j0 such that the swap completes by ``dl`` and the truck is idle for the whole trip.

    ``strict``: only the latest feasible start regardless of the truck's other trips is tried (None if the truck is
    busy then); otherwise earlier starts are scanned until the truck is idle.
    """
    si = ctx.sites[skey]
    n_sigma = ctx.n_sigma
    d_inst = float(si.demand.D(ctx.t(j_inst)))
    for j0 in range(dl - n_sigma - 1, ti.a - 1, -1):
        ob = pl.outbound(typ, ro, j0)
        if ob is None:
            continue
        ja, qd, oarcs = ob
        ja2 = max(ja, ws)
        js = ja2 + n_sigma
        if js > dl:
            continue
        rem = e - (float(si.demand.D(ctx.t(js))) - d_inst)
        if rem < si.reserve_kwh - TOL_KWH:
            continue
        b = int(level_floor(rem / ti.delta))
        ib = pl.inbound(typ, rr, js, b)
        if ib is None:
            continue
        je, _, rarcs = ib
        if je > ti.b:
            continue
        if any(s < je and j0 < f for s, f in busy):
            if strict:
                return None
            continue
        arcs = list(oarcs)
        arcs += [("wait", skey, skey, j, j + 1, qd, qd, "") for j in range(ja, ja2)]
        arcs.append(("swap", skey, skey, ja2, js, qd, b, ""))
        arcs += rarcs
        return j0, arcs
    return None


def _arcs_frame(ctx: EvalContext, trips: list[tuple[str, str, str, list[Arc]]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    trows: list[dict[str, Any]] = []
    arows: list[dict[str, Any]] = []
    for t, (typ, truck, skey, arcs) in enumerate(trips):
        sw = next(a for a in arcs if a[0] == "swap")
        trows.append({"trip": t, "type": typ, "truck": truck, "site": ctx.node_by_key[skey],
                      "j_start": arcs[0][3], "j_arrive": sw[3], "j_swap_end": sw[4], "j_end": arcs[-1][4],
                      "q_start": arcs[0][5], "q_delivered": sw[5], "q_removed": sw[6], "q_end": arcs[-1][6]})
        for s, (k, f, to, j0, j1, q0, q1, ch) in enumerate(arcs):
            chv: Any = ch
            if k == "charge" and ch != "depot":
                chv = ctx.node_by_key[ch]
            arows.append({"trip": t, "seq": s, "kind": k, "frm": ctx.node_by_key[f], "to": ctx.node_by_key[to],
                          "j_from": j0, "j_to": j1, "q_from": q0, "q_to": q1, "charger": chv})
    return pd.DataFrame(trows, columns=TRIP_COLUMNS), pd.DataFrame(arows, columns=ARC_COLUMNS)


def _trip_costs(ctx: EvalContext, typ: str, truck: str, skey: str, cands: list[list[Arc]]) -> np.ndarray:
    """§6.1 trip cost of each candidate (arc costs by the evaluator's replay + wages)."""
    tr, ar = _arcs_frame(ctx, [(typ, truck, skey, a) for a in cands])
    a = replay_arcs(ctx, tr, ar)
    s = a.groupby("trip", sort=True)[["energy", "charging", "tolls", "maintenance", "deg_cal", "deg_cyc"]].sum()
    dur = np.array([(c[-1][4] - c[0][3]) * ctx.dt for c in cands])
    return s.sum(axis=1).to_numpy() + ctx.types[typ].wage * dur


def _to_plan(ctx: EvalContext, method: str, trips: list[tuple[str, str, str, list[Arc]]], status: str) -> Plan:
    # canonical order: by start step, truck id
    order = sorted(range(len(trips)), key=lambda i: (trips[i][3][0][3], _sort_key(trips[i][1]), i))
    tr, ar = _arcs_frame(ctx, [trips[i] for i in order])
    return Plan(method, tr, ar, status=status)


def _infeasible(method: str, trips: list[Any], skey: str, reason: str) -> BaselineResult:
    plan = Plan.empty(method, status="infeasible")
    return BaselineResult(plan, "infeasible", reason, [skey])


def baseline(case: MessCase, method: str, degradation: str | None = None, *,
             ctx: EvalContext | None = None) -> Plan:
    """The baseline plan (mess.md §7 Python API); ``plan.status`` is ``feasible`` or ``infeasible``."""
    return run_baseline(case, method, degradation, ctx=ctx).plan
