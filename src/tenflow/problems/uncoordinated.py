"""Uncoordinated (siloed) OMTEPF operation, omtepf.md §3.9 and §5.

Three stages, as in the paper's Table III:

1. **Transport MILPs** (§5.1): one MILP per travel period (maximal run of steps in which some EV is not in a
   *stay* window; symmetrica-lite: morning and evening), parking and road transitions only, objective
   ``C_T + C_Q``, SoC depletion tracked as ``SOC >= 0`` from the heuristic's SoC at the start of the period.
   Between the periods the EVs are parked where their stay windows say.
2. **"Charge as soon as possible" heuristic** (§5.2 pseudo-code): chronological, EVs in index order,
   non-preemptive; electrified arcs are used (charge while driving) whenever the EV is not full; a parked EV
   charges at once at an unlimited charger (home, ``plugs = 0``); at chargers with a plug limit a FIFO queue
   (arrival step, then EV order) assigns plugs to EVs that can take a full step.
3. **Per-step IV-ACOPF** (§5.3) with the charging currents fixed: :func:`tenflow.problems.opf.solve`
   (convex–concave procedure; the per-step problems are independent).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tenflow.case import Case
from tenflow.errors import CaseError, InfeasibleError
from tenflow.formulations import charging as CH
from tenflow.formulations import transport as TR
from tenflow.problems.omtepf_solution import OmtepfSolution
from tenflow.results.progress import status
from tenflow.solve.highs import solve_highs
from tenflow.solve.program import Program

Array = np.ndarray

#: plan codes per (EV, step): undecided, a transition starts, queued, inside a multi-step transition
P_NONE, P_FIRE, P_QUEUE, P_BUSY = 0, 1, 2, 3


@dataclass
class TransportPlan:
    """Uncoordinated EV plan per (EV, step): ``code`` (fire / queue), ``cap`` (capability row of a park or
    road firing), ``buf`` (queue buffer); ``stats`` per MILP period (traversals, queued, objective, time)."""

    code: Array
    cap: Array
    buf: Array
    stats: list[dict]


def travel_periods(fleet: TR.Fleet) -> list[tuple[int, int]]:
    """Horizons ``(k0, k1)`` of the transport MILPs: each maximal run of steps where some EV is not in a stay
    window, extended by one step at the end (the arrival step, where the EV must be parked) (§3.9, §5.1)."""
    moving = (fleet.mode != TR.STAY).any(axis=0)
    out: list[tuple[int, int]] = []
    k = 0
    K = fleet.K
    while k < K:
        if moving[k]:
            k0 = k
            while k < K and moving[k]:
                k += 1
            out.append((k0, min(k + 1, K)))
        else:
            k += 1
    return out


def _stay_parking(fleet: TR.Fleet) -> Array:
    """Park capability row per (EV, buffer) (-1 if the EV may not park there)."""
    c = fleet.caps
    pk = c[c["kind"] == "park"]
    out = np.full((fleet.n_ev, fleet.n_buf), -1, dtype=int)
    out[pk["ev"].to_numpy()[::-1], pk["origin"].to_numpy()[::-1]] = pk.index.to_numpy()[::-1]
    return out


def _elastic_diagnosis(fleet: TR.Fleet, k0: int, k1: int, start: Array, soc0: Array) -> list[str]:
    """Name EVs / windows that make a transport period infeasible: solve each EV alone (capacities kept).

    An EV that is infeasible on its own cannot meet its itinerary in time (or its SoC); if every EV is
    feasible alone, the shared capacities are the cause and the period's windows are reported.
    """
    details: list[str] = []
    fs = TR.firing_set(fleet, k0, k1, start, kinds=("park", "road"))
    for v in range(fleet.n_ev):
        evx = fleet.caps["ev"].to_numpy()[fs.x_cap]
        if not fs.reach[v, :, -1].any():
            details.append(_window_text(fleet, v, k0, k1, "cannot reach its destinations in time"))
            continue
        sub = TR.FiringSet(k0, k1, start, fs.x_cap[evx == v], fs.x_k[evx == v], fs.q_ev[fs.q_ev == v],
                           fs.q_buf[fs.q_ev == v], fs.q_k[fs.q_ev == v], fs.reach,
                           active=np.arange(fleet.n_ev) == v)
        p = Program("ev-feasibility")
        tv = TR.add_transport(p, fleet, sub)
        CH.add_soc(p, tv, soc_start=soc0)
        s = solve_highs(p)
        if s.status == "infeasible":
            details.append(_window_text(fleet, v, k0, k1, "infeasible on its own (time, eligibility or SoC)"))
    if not details:
        details.append(f"every EV is feasible alone in steps {k0}..{k1 - 1}: road/lot/plug capacities are too small "
                       f"for the itineraries of EVs {list(fleet.ev_ids[(fleet.mode[:, k0:k1] == TR.TRAVEL).any(1)])}")
    return details


def _window_text(fleet: TR.Fleet, v: int, k0: int, k1: int, why: str) -> str:
    """``EV id: <its itinerary windows within k0..k1-1>: why`` (travel windows first, they are the usual cause)."""
    m = fleet.mode[v, k0:k1]
    wb = fleet.wbuf[v, k0:k1]
    change = np.flatnonzero(np.r_[True, (m[1:] != m[:-1]) | (wb[1:] != wb[:-1])])
    ends = np.r_[change[1:], len(m)] - 1
    names = {TR.STAY: "stay at", TR.TRAVEL: "travel window to", TR.FREE: "free"}
    wins = []
    for a, b in zip(change, ends, strict=True):
        where = f" buffer {fleet.buffer_ids[wb[a]]}" if wb[a] >= 0 else ""
        wins.append((m[a] != TR.TRAVEL, f"{names[int(m[a])]}{where} k={k0 + a}..{k0 + b}"))
    wins.sort(key=lambda w: w[0])
    return f"EV {fleet.ev_ids[v]}: " + "; ".join(w for _, w in wins) + f": {why}"


def solve_transport_period(fleet: TR.Fleet, k0: int, k1: int, start: Array, soc0: Array,
                           *, time_limit: float | None = None) -> tuple[TR.FiringSet, dict, Array, Array]:
    """One uncoordinated transport MILP (§5.1) over steps ``k0..k1-1``; returns firing set, stats, x, q."""
    from tenflow.problems.omtepf import build_transport

    t0 = time.perf_counter()
    p, tv = build_transport(fleet, k0, k1, start, soc0)
    fs = tv.fs
    if not fs.reach[:, :, 0][np.arange(fleet.n_ev), start].all():
        raise InfeasibleError(f"transport period k={k0}..{k1 - 1} is infeasible",
                              _elastic_diagnosis(fleet, k0, k1, start, soc0))
    build = time.perf_counter() - t0
    s = solve_highs(p, time_limit=time_limit)
    if not s.ok:
        if s.status == "infeasible":
            raise InfeasibleError(f"transport period k={k0}..{k1 - 1} is infeasible",
                                  _elastic_diagnosis(fleet, k0, k1, start, soc0))
        raise InfeasibleError(f"transport period k={k0}..{k1 - 1}: HiGHS status {s.status}")
    x = np.round(s["x"])
    q = np.round(s["q"])
    kinds = fleet.caps["kind"].to_numpy()[fs.x_cap]
    stats = {"k0": k0, "k1": k1, "objective": s.objective, "traversals": int(x[np.isin(kinds, TR.ROAD_KINDS)].sum()),
             "queued": int(q.sum()), "build_s": build, "solve_s": s.time_s, **p.size_summary()}
    return fs, stats, x, q


# ---------------------------------------------------------------------------------------------- heuristic
def _lookups(fleet: TR.Fleet) -> tuple[Array, dict, dict]:
    """Electrified twin of every road capability; chargers usable per (EV, buffer)."""
    c = fleet.caps
    twin = np.full(len(c), -1, dtype=int)
    road = c[c["kind"] == "road"]
    el = c[c["kind"].isin(["inductive", "wire"])]
    if len(el):
        m = road.reset_index().merge(el.reset_index(), on=["ev", "component", "origin", "dest"], suffixes=("", "_e"))
        twin[m["index"].to_numpy()] = m["index_e"].to_numpy()
    ch = c[c["kind"].isin(["home", "com"])]
    plugs = fleet.resources.set_index("id")["capacity"]
    plugs = plugs[fleet.resources.set_index("id")["type"] == "plugs"]
    immediate: dict[tuple[int, int], int] = {}
    fifo: dict[tuple[int, int], tuple[int, str]] = {}
    for i, ev, b, comp in zip(ch.index, ch["ev"], ch["origin"], ch["component"], strict=True):
        if comp in plugs.index:
            fifo.setdefault((int(ev), int(b)), (int(i), str(comp)))
        else:
            immediate.setdefault((int(ev), int(b)), int(i))
    return twin, immediate, fifo


def charge_asap(fleet: TR.Fleet, plan: TransportPlan, k_from: int = 0, k_to: int | None = None,
                soc: Array | None = None, state: dict | None = None) -> tuple[Array, Array, dict]:
    """Stage 2, the §5.2 heuristic over steps ``k_from..k_to-1``; returns ``(fire_cap, soc, state)``.

    ``fire_cap[v, k]`` is the capability finally used (road → its electrified twin when not full; park →
    a charger when charging), ``-1`` for queued steps; ``soc`` ``(V, K+1)``. ``state`` carries the FIFO queues
    and charging sets between calls (the uncoordinated pipeline calls it once per period).
    """
    V, K = fleet.n_ev, fleet.K
    k_to = K if k_to is None else k_to
    c = fleet.caps
    rate = c["rate"].to_numpy(dtype=float)
    kind = c["kind"].to_numpy(dtype=object)
    origin = c["origin"].to_numpy()
    cap_lim = fleet.resources.set_index("id")["capacity"]
    twin, immediate, fifo = _lookups(fleet)
    if state is None:
        state = {"soc": np.zeros((V, K + 1)), "fire": np.full((V, K), -1, dtype=int), "queue": {}, "charging": {},
                 "twin": twin}
        state["soc"][:, 0] = fleet.soc_init if soc is None else soc
    S = state["soc"]
    fire = state["fire"]
    queue: dict[str, list[int]] = state["queue"]
    charging: dict[str, set[int]] = state["charging"]
    bat = fleet.battery
    for k in range(k_from, k_to):
        s = S[:, k].copy()
        arrivals: list[tuple[int, str]] = []
        parked_fifo: dict[int, tuple[int, str]] = {}
        for v in range(V):
            if plan.code[v, k] != P_FIRE:
                fire[v, k] = -1
                continue
            f = plan.cap[v, k]
            kd = kind[f]
            if kd == "road":
                e = twin[f]
                if e >= 0 and s[v] < bat[v] and s[v] + rate[e] <= bat[v] + 1e-9 and s[v] + rate[e] >= -1e-9:
                    f = e
                fire[v, k] = f
                s[v] += rate[f]
            elif kd == "park":
                b = origin[f]
                can_charge = fleet.mode[v, k] == TR.FREE or (fleet.wcharge[v, k] and fleet.wbuf[v, k] == b)
                key = (v, int(b))
                if can_charge and key in immediate:
                    h = immediate[key]
                    if s[v] + rate[h] <= bat[v] + 1e-9:
                        f = h
                    fire[v, k] = f
                    s[v] += rate[f]
                elif can_charge and key in fifo:
                    comp = fifo[key][1]
                    first = k == 0 or plan.code[v, k - 1] != P_FIRE or kind[plan.cap[v, k - 1]] != "park" \
                        or origin[plan.cap[v, k - 1]] != b
                    if first and s[v] < bat[v]:
                        arrivals.append((v, comp))
                    parked_fifo[v] = fifo[key]
                    fire[v, k] = f
                else:
                    fire[v, k] = f
            else:
                fire[v, k] = f
                s[v] += rate[f]
        # FIFO plug assignment (non-preemptive), per charger with a plug limit
        for v, comp in arrivals:
            queue.setdefault(comp, []).append(v)
        for comp in set(queue) | set(charging):
            cur = charging.setdefault(comp, set())
            q = queue.setdefault(comp, [])
            cur -= {v for v in cur if v not in parked_fifo or parked_fifo[v][1] != comp or S[v, k] >= bat[v]}
            q[:] = [v for v in q if v in parked_fifo and parked_fifo[v][1] == comp]
            h_rate = {v: rate[parked_fifo[v][0]] for v in q}
            while len(cur) < cap_lim[comp] and q:
                v = q.pop(0)
                if S[v, k] + h_rate[v] <= bat[v] + 1e-9:
                    cur.add(v)
            for v in cur:
                cap_c = parked_fifo[v][0]
                if S[v, k] + rate[cap_c] <= bat[v] + 1e-9:
                    fire[v, k] = cap_c
                    s[v] += rate[cap_c]
        S[:, k + 1] = s
    return fire, S, state


# ---------------------------------------------------------------------------------------------- pipeline
def schedule(case: Case, fleet: TR.Fleet | None = None, *, time_limit: float | None = None
             ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """Stages 1–2: the uncoordinated EV schedule (firings, idle, soc tables of the contract) and stats."""
    fleet = TR.build_fleet(case) if fleet is None else fleet
    V, K = fleet.n_ev, fleet.K
    periods = travel_periods(fleet)
    # run transport + heuristic period by period so each MILP starts from the heuristic's SoC (§5.1)
    code = np.zeros((V, K), dtype=np.int8)
    plan = TransportPlan(code=code, cap=np.full((V, K), -1, dtype=int), buf=np.full((V, K), -1, dtype=int), stats=[])
    full = transport_plan_stays(fleet)
    plan.code[:] = full.code
    plan.cap[:] = full.cap
    state = None
    k = 0
    loc = fleet.home.copy()
    t0 = time.perf_counter()
    for k0, k1 in periods:
        fire, S, state = charge_asap(fleet, plan, k, k0, state=state)
        k = k0
        if k0 > 0:
            prev = fleet.wbuf[:, k0 - 1]
            loc = np.where(prev >= 0, prev, loc)
        status(f"uncoordinated: transport MILP for steps {k0}..{k1 - 1}")
        fs, st, x, q = solve_transport_period(fleet, k0, k1, loc, state["soc"][:, k0], time_limit=time_limit)
        plan.stats.append(st)
        sel = np.flatnonzero(x > 0.5)
        evx = fleet.caps["ev"].to_numpy()[fs.x_cap[sel]]
        plan.code[evx, fs.x_k[sel]] = P_FIRE
        plan.cap[evx, fs.x_k[sel]] = fs.x_cap[sel]
        dur = fleet.caps["duration"].to_numpy()[fs.x_cap[sel]]
        for extra in range(1, int(dur.max(initial=1))):
            m = dur > extra
            plan.code[evx[m], fs.x_k[sel][m] + extra] = P_BUSY
        sq = np.flatnonzero(q > 0.5)
        plan.code[fs.q_ev[sq], fs.q_k[sq]] = P_QUEUE
        plan.buf[fs.q_ev[sq], fs.q_k[sq]] = fs.q_buf[sq]
    fire, S, state = charge_asap(fleet, plan, k, K, state=state)
    heur_s = time.perf_counter() - t0 - sum(s["build_s"] + s["solve_s"] for s in plan.stats)
    missing = (plan.code == P_NONE)
    if missing.any():
        v, kk = np.argwhere(missing)[0]
        raise InfeasibleError("uncoordinated plan leaves EV-steps undecided (steps outside every window and "
                              "travel period)", [f"EV {fleet.ev_ids[v]} at k={kk}"])
    vv, kk = np.nonzero(fire >= 0)
    firings = TR.firings_frame(fleet, fire[vv, kk], kk)
    qv, qk = np.nonzero(plan.code == P_QUEUE)
    idle = pd.DataFrame({"ev": fleet.ev_ids.to_numpy(dtype=object)[qv], "k": qk,
                         "buffer": fleet.buffer_ids.to_numpy(dtype=object)[plan.buf[qv, qk]]})
    soc = pd.DataFrame({"ev": np.repeat(fleet.ev_ids.to_numpy(dtype=object), K + 1),
                        "k": np.tile(np.arange(K + 1), V), "soc": S.ravel()})
    info = {"transport_milps": plan.stats, "heuristic_s": heur_s}
    bad = S[:, K] < fleet.soc_final - 1e-9
    if bad.any():
        info["soc_final_shortfall"] = {str(fleet.ev_ids[v]): float(fleet.soc_final[v] - S[v, K])
                                       for v in np.flatnonzero(bad)}
    return firings, idle, soc, info


def transport_plan_stays(fleet: TR.Fleet) -> TransportPlan:
    """Stay windows as parking firings (the part of stage 1 outside the MILP periods)."""
    V, K = fleet.n_ev, fleet.K
    code = np.zeros((V, K), dtype=np.int8)
    cap = np.full((V, K), -1, dtype=int)
    park = _stay_parking(fleet)
    vv, kk = np.nonzero(fleet.mode == TR.STAY)
    pc = park[vv, fleet.wbuf[vv, kk]]
    if (pc < 0).any():
        i = int(np.flatnonzero(pc < 0)[0])
        raise CaseError(f"EV {fleet.ev_ids[vv[i]]} must stay at buffer {fleet.buffer_ids[fleet.wbuf[vv[i], kk[i]]]} "
                        f"at k={kk[i]} but may not park there", file="itineraries.csv", field="buffer")
    code[vv, kk] = P_FIRE
    cap[vv, kk] = pc
    return TransportPlan(code=code, cap=cap, buf=np.full((V, K), -1, dtype=int), stats=[])


def run(case: Case, *, opf: bool = True, time_limit: float | None = None, opf_kwargs: dict | None = None
        ) -> OmtepfSolution:
    """The uncoordinated pipeline (§3.9): transport MILPs → charge-ASAP heuristic → per-step IV-ACOPF."""
    t0 = time.perf_counter()
    fleet = TR.build_fleet(case)
    firings, idle, soc, info = schedule(case, fleet, time_limit=time_limit)
    t_sched = time.perf_counter() - t0
    volt = pd.DataFrame({"bus": [], "k": [], "vr": [], "vi": []})
    gens = pd.DataFrame({"gen": [], "k": [], "ir": [], "ii": []})
    caps = fleet.caps.iloc[firings["cap"].to_numpy(dtype=int)]
    ev_part = float(caps["cost"].sum() - caps["revenue"].sum() + fleet.c_Q * len(idle))  # C_T + C_Q - R_C
    info["transport_objective"] = ev_part
    if opf:
        from tenflow.problems.omtepf import grid_opf

        status("uncoordinated: per-step IV-ACOPF with the charging currents fixed")
        volt, gens, oinfo = grid_opf(case, fleet, firings, **(opf_kwargs or {}))
        info["opf"] = oinfo
        info["objective"] = ev_part + oinfo["objective"]  # eq. 67 without the constant C_S, exact revenue
    info.update({"solver": "highs+heuristic+clarabel", "status": "ok", "bound": None, "gap": None,
                 "sizes": {"transport_milps": [{k: s[k] for k in ("variables", "integer", "rows", "nonzeros")}
                                               for s in info["transport_milps"]]},
                 "timings": {"schedule_s": t_sched, "total_s": time.perf_counter() - t0}})
    return OmtepfSolution(mode="uncoordinated", case_name=case.name, K=case.K, firings=firings, idle=idle, soc=soc,
                          voltages=volt, gen_currents=gens, info=info)
