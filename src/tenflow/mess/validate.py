"""Validation of a MESS case (mess.md §8) and road-graph helpers.

:func:`validate_case` adds every problem as an :class:`~tenflow.errors.Issue` with a code
(``E-NODE-UNKNOWN``, ``E-ARC-LENGTH``, ``E-ARC-DUP``, ``E-ZONE-SUM``, ``E-ROLE``, ``E-GRID``, ``E-WINDOW``,
``E-FLEET``, ``E-PRICE``, ``E-PARAM``, and the road part of ``E-UNREACHABLE``) and the warnings ``W-ASYM`` and ``W-GRADE-LOOP`` (the importer adds
``W-GRADE-MISSING``). The optimiser-dependent checks (energy part of ``E-UNREACHABLE``, ``E-DEADLINE``, ``E-SUPPLY``)
live with the optimiser; :func:`shortest_path` / :func:`distance_matrix_km` give the road graph by km.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from tenflow.errors import CaseError, Issue, IssueCollector
from tenflow.mess.case import MessCase, NodeId, format_hhmm, parse_zone_km

PROTOTYPE_BUSES = ("6", "10", "11")
_EPS = 1e-9


def _hm(h: float) -> str:
    try:
        return format_hhmm(h)
    except Exception:  # noqa: BLE001 - only used for messages
        return f"{h:g} h"


def validate_case(case: MessCase, col: IssueCollector) -> None:
    """Run all §8 input checks on ``case``; add errors and warnings to ``col`` (does not raise)."""
    if col.issues:  # schema-level problems: frames may be incomplete, stop here
        return
    cfg = case.config
    nodes = case.nodes
    role = dict(zip(nodes["id"], nodes["role"], strict=True))
    _check_grid(case, col)
    # depot
    dep = cfg["depot"]["node"]
    if dep not in role:
        col.add(f"depot node {dep} not in nodes.csv", file="case.toml", field="depot.node", code="E-NODE-UNKNOWN")
    elif role[dep] != "depot":
        col.add(f"depot node {dep} has role '{role[dep]}' (must be depot)", file="case.toml", field="depot.node",
                code="E-ROLE")
    for nid, r in role.items():
        if r == "depot" and nid != dep:
            col.add(f"node {nid} has role depot but depot.node = {dep}", file="nodes.csv", field="role",
                    code="E-ROLE")
    _check_arcs(case, role, col)
    _check_traffic(case, col)
    _check_chargers_sites(case, role, col)
    _check_trucks(case, col)
    _check_prices(case, col)
    if not col.issues:
        _check_reachable(case, col)
    _warn_asym(case, col)
    _warn_grade_loop(case, col)
    _warn_not_fifo(case, col)


def validate(case: MessCase) -> list[Issue]:
    """Validate ``case``; raise :class:`CaseError` on errors, return the warnings."""
    col = IssueCollector()
    validate_case(case, col)
    col.raise_if_any()
    return list(col.warnings)


# ---------------------------------------------------------------------------------------------


def _check_grid(case: MessCase, col: IssueCollector) -> None:
    t = case.config["time"]
    step = int(t["step_min"])
    if 60 % step != 0:
        col.add(f"time.step_min = {step} does not divide 60", file="case.toml", field="time.step_min", code="E-GRID")
    start, end = float(t["start"]), float(t["end"])
    if not start < end:
        col.add(f"horizon {_hm(start)}–{_hm(end)} is empty", file="case.toml", field="time.end", code="E-GRID")
    else:
        span = (end - start) * 60.0
        if abs(span / step - round(span / step)) > 1e-9:
            col.add(f"horizon {_hm(start)}–{_hm(end)} is not a multiple of the step {step} min", file="case.toml",
                    field="time", code="E-GRID")
    dstep = int(t["demand_step_min"])
    if 60 % dstep != 0:
        col.add(f"time.demand_step_min = {dstep} does not divide 60", file="case.toml",
                field="time.demand_step_min", code="E-GRID")
    b = float(case.config["soc"]["bucket"])
    if abs(1.0 / b - round(1.0 / b)) > 1e-9:
        col.add(f"soc.bucket = {b}: 1/bucket = {1.0 / b:g} is not an integer", file="case.toml", field="soc.bucket",
                code="E-GRID")


def _check_arcs(case: MessCase, role: dict[Any, str], col: IssueCollector) -> None:
    arcs = case.arcs
    dz = int(case.config["traffic"]["default_zone"])
    seen: dict[tuple[Any, Any], int] = {}
    for r, (a, b, d, z) in enumerate(
        zip(arcs["from"], arcs["to"], arcs["length_km"], arcs["zone_km"], strict=True), start=1
    ):
        for fld, n in (("from", a), ("to", b)):
            if n not in role:
                col.add(f"node {n} not in nodes.csv", file="arcs.csv", row=r, field=fld, code="E-NODE-UNKNOWN")
        if not (float(d) > 0 and math.isfinite(float(d))):
            col.add(f"({a}→{b}): length_km = {d:g} (must be > 0)", file="arcs.csv", row=r, field="length_km",
                    code="E-ARC-LENGTH")
        if a == b:
            col.add(f"({a}→{b}): self-loop", file="arcs.csv", row=r, field="to", code="E-ARC-DUP")
        if (a, b) in seen:
            col.add(f"({a}→{b}): duplicate arc (first in row {seen[(a, b)]})", file="arcs.csv", row=r,
                    field="to", code="E-ARC-DUP")
        else:
            seen[(a, b)] = r
        try:
            pieces = parse_zone_km(z, float(d), dz)
        except ValueError as exc:
            col.add(f"({a}→{b}): zone_km '{z}': {exc}", file="arcs.csv", row=r, field="zone_km", code="E-ZONE-SUM")
            continue
        tot = sum(km for _, km in pieces)
        if abs(tot - float(d)) > 1e-9:
            col.add(f"({a}→{b}): zone pieces sum to {tot:g} km, length_km = {float(d):g}", file="arcs.csv", row=r,
                    field="zone_km", code="E-ZONE-SUM")


def segment_names(case: MessCase) -> list[str]:
    tr = case.config["traffic"]
    names = [s["name"] for s in tr.get("segments") or []]
    if tr.get("default_segment") is not None and tr["default_segment"] not in names:
        names.append(tr["default_segment"])
    return names


def _check_traffic(case: MessCase, col: IssueCollector) -> None:
    tr = case.config["traffic"]
    segs = tr.get("segments") or []
    names = [s["name"] for s in segs]
    for i, s in enumerate(segs, start=1):
        if not s["start"] < s["end"]:
            col.add(f"segment '{s['name']}' {_hm(s['start'])}–{_hm(s['end'])} is empty", file="case.toml",
                    field=f"traffic.segments[{i}]", code="E-PARAM")
        if names.count(s["name"]) > 1:
            col.add(f"segment name '{s['name']}' repeated", file="case.toml", field=f"traffic.segments[{i}]",
                    code="E-PARAM")
    order = sorted(segs, key=lambda s: s["start"])
    for a, b in zip(order, order[1:], strict=False):
        if b["start"] < a["end"] - _EPS:
            col.add(f"segments '{a['name']}' and '{b['name']}' overlap", file="case.toml", field="traffic.segments",
                    code="E-PARAM")
    if tr["model"] == "none":
        return
    if tr.get("default_segment") is None:
        col.add(f"traffic.model = '{tr['model']}' needs traffic.default_segment", file="case.toml",
                field="traffic.default_segment", code="E-PARAM")
        return
    sf = case.speed_factors
    have = set(zip(sf["zone"].astype(int), sf["segment"], strict=True)) if len(sf) else set()
    dz = int(tr["default_zone"])
    zones: set[int] = set()
    for d, z in zip(case.arcs["length_km"], case.arcs["zone_km"], strict=True):
        try:
            zones.update(zz for zz, _ in parse_zone_km(z, float(d), dz))
        except ValueError:
            pass
    for zz in sorted(zones):
        for sname in segment_names(case):
            if (zz, sname) not in have:
                col.add(f"no speed factor for zone {zz}, segment '{sname}'", file="speed_factors.csv",
                        field="factor", code="E-PARAM")


def _check_chargers_sites(case: MessCase, role: dict[Any, str], col: IssueCollector) -> None:
    h0, h1 = case.horizon
    for tbl, frame, want, fld in (("chargers.csv", case.chargers, "charger", "node"),
                                  ("sites.csv", case.sites, "site", "node"),
                                  ("excavators.csv", case.excavators, "site", "site")):
        for r, n in enumerate(frame[fld], start=1):
            if n not in role:
                col.add(f"node {n} not in nodes.csv", file=tbl, row=r, field=fld, code="E-NODE-UNKNOWN")
            elif role[n] != want:
                col.add(f"node {n} has role '{role[n]}' (must be {want})", file=tbl, row=r, field=fld, code="E-ROLE")
    charger_nodes = set(case.chargers["node"])
    site_nodes = set(case.sites["node"])
    for nid, rl in role.items():
        if rl == "charger" and nid not in charger_nodes:
            col.add(f"node {nid} has role charger but no row in chargers.csv", file="nodes.csv", field="role",
                    code="E-ROLE")
        if rl == "site" and nid not in site_nodes:
            col.add(f"node {nid} has role site but no row in sites.csv", file="nodes.csv", field="role",
                    code="E-ROLE")
    s = case.sites
    for r, row in enumerate(s.itertuples(index=False), start=1):
        ws, we, ks, ke = row.window_start, row.window_end, row.work_start, row.work_end
        if any(math.isnan(v) for v in (ws, we, ks, ke)):
            continue
        if not ws < we:
            col.add(f"site {row.node}: window {_hm(ws)}–{_hm(we)} empty", file="sites.csv", row=r,
                    field="window_end", code="E-WINDOW")
        elif ws < h0 - _EPS or we > h1 + _EPS:
            col.add(f"site {row.node}: window {_hm(ws)}–{_hm(we)} outside the horizon {_hm(h0)}–{_hm(h1)}",
                    file="sites.csv", row=r, field="window_start", code="E-WINDOW")
        if not ks < ke:
            col.add(f"site {row.node}: work hours {_hm(ks)}–{_hm(ke)} empty", file="sites.csv", row=r,
                    field="work_end", code="E-WINDOW")
        elif ks < h0 - _EPS or ke > h1 + _EPS:
            col.add(f"site {row.node}: work hours {_hm(ks)}–{_hm(ke)} outside the horizon {_hm(h0)}–{_hm(h1)}",
                    file="sites.csv", row=r, field="work_start", code="E-WINDOW")
        if row.soc_init < row.reserve_soc - _EPS:
            col.add(f"site {row.node}: soc_init {row.soc_init:g} below reserve_soc {row.reserve_soc:g}",
                    file="sites.csv", row=r, field="soc_init", code="E-PARAM")
    ex = case.excavators
    for r, row in enumerate(ex.itertuples(index=False), start=1):
        if row.trigger_soc > row.target_soc:
            col.add(f"excavator {row.excavator} at site {row.site}: trigger_soc > target_soc",
                    file="excavators.csv", row=r, field="trigger_soc", code="E-PARAM")


_TYPE_PARAMS = ("mess_kwh", "speed_kmh", "mass_kg", "wage_per_h", "soc_min", "soc_max", "max_charge_kw",
                "avail_start", "avail_end", "crr", "cda_m2", "eta_drive", "eta_regen", "p_aux_kw",
                "p_regen_max_kw", "flat_kwh_per_km", "aux_kwh_per_leg")


def _same(a: Any, b: Any) -> bool:
    fa, fb = float(a), float(b)
    return (math.isnan(fa) and math.isnan(fb)) or fa == fb


def _check_trucks(case: MessCase, col: IssueCollector) -> None:
    tr = case.trucks
    h0, h1 = case.horizon
    s_dep = float(case.config["depot"]["s_dep"])
    first: dict[str, int] = {}
    all_ids: dict[str, str] = {}
    from tenflow.mess.case import parse_ids

    for r, row in enumerate(tr.itertuples(index=False), start=1):
        rec = row._asdict()
        typ = rec["type"]
        if typ in first:
            ref = tr.iloc[first[typ] - 1]
            diff = [p for p in _TYPE_PARAMS if not _same(ref[p], rec[p])]
            if diff:
                col.add(f"type {typ}: trucks differ from row {first[typ]} in {', '.join(diff)} (all trucks of a "
                        f"type must be identical)", file="trucks.csv", row=r, field=diff[0], code="E-FLEET")
        else:
            first[typ] = r
        for i in parse_ids(rec["ids"]):
            k = str(i)
            if k in all_ids:
                col.add(f"truck id {i} appears twice (types {all_ids[k]} and {typ})", file="trucks.csv", row=r,
                        field="ids", code="E-FLEET")
            all_ids[k] = typ
        if not rec["soc_min"] < rec["soc_max"]:
            col.add(f"type {typ}: soc_min {rec['soc_min']:g} >= soc_max {rec['soc_max']:g}", file="trucks.csv",
                    row=r, field="soc_min", code="E-PARAM")
        if s_dep > rec["soc_max"] + _EPS:
            col.add(f"type {typ}: depot.s_dep {s_dep:g} > soc_max {rec['soc_max']:g}", file="trucks.csv", row=r,
                    field="soc_max", code="E-PARAM")
        if s_dep < rec["soc_min"] - _EPS:
            col.add(f"type {typ}: depot.s_dep {s_dep:g} < soc_min {rec['soc_min']:g}", file="trucks.csv", row=r,
                    field="soc_min", code="E-PARAM")
        a0, a1 = rec["avail_start"], rec["avail_end"]
        if not (math.isnan(a0) or math.isnan(a1)):
            if not a0 < a1:
                col.add(f"type {typ}: availability {_hm(a0)}–{_hm(a1)} empty", file="trucks.csv", row=r,
                        field="avail_end", code="E-WINDOW")
            elif a0 < h0 - _EPS or a1 > h1 + _EPS:
                col.add(f"type {typ}: availability {_hm(a0)}–{_hm(a1)} outside the horizon {_hm(h0)}–{_hm(h1)}",
                        file="trucks.csv", row=r, field="avail_start", code="E-WINDOW")
        if case.config["physics"]["model"] == "prototype" and not math.isfinite(rec["flat_kwh_per_km"]):
            col.add(f"type {typ}: physics.model = 'prototype' needs flat_kwh_per_km", file="trucks.csv", row=r,
                    field="flat_kwh_per_km", code="E-PARAM")
    packs = {float(x) for x in tr["mess_kwh"]}
    for r, row in enumerate(case.sites.itertuples(index=False), start=1):
        if float(row.mess_kwh) not in packs:
            col.add(f"site {row.node}: no truck type carries a {row.mess_kwh:g} kWh pack", file="sites.csv", row=r,
                    field="mess_kwh", code="E-FLEET")


def _check_prices(case: MessCase, col: IssueCollector) -> None:
    cfg = case.config
    dep = cfg["depot"]
    pf, pb = dep.get("price_flat"), dep.get("price_bus")
    if pf is not None and pb is not None:
        col.add("give depot.price_flat or depot.price_bus, not both", file="case.toml", field="depot.price_bus",
                code="E-PRICE")
    if float(dep["charger_kw"]) > 0 and pf is None and pb is None:
        col.add("depot charger without a price: give depot.price_flat or depot.price_bus", file="case.toml",
                field="depot.price_flat", code="E-PRICE")
    src = cfg["prices"]["source"]
    buses: list[tuple[str, str]] = [(f"charger {n}", str(b)) for n, b in zip(case.chargers["node"],
                                                                              case.chargers["bus"], strict=True)]
    if pb is not None and pf is None:
        buses.append(("depot", str(pb)))
    if src == "table":
        pr = case.prices
        have = set(zip(pr["bus"].astype(str), pr["hour"].astype(int), strict=True)) if len(pr) else set()
        for who, bus in buses:
            missing = [h for h in range(24) if (bus, h) not in have]
            if missing:
                hrs = ", ".join(str(h) for h in missing[:6]) + (" …" if len(missing) > 6 else "")
                col.add(f"{who} (bus {bus}): no price for hour{'s' if len(missing) > 1 else ''} {hrs}",
                        file="prices.csv", field="price_per_kwh", code="E-PRICE")
    elif src == "prototype":
        for who, bus in buses:
            if bus not in PROTOTYPE_BUSES:
                col.add(f"{who} (bus {bus}): the prototype price model knows buses {', '.join(PROTOTYPE_BUSES)} only",
                        file="chargers.csv" if who != "depot" else "case.toml", field="bus", code="E-PRICE")
    elif src == "opf":
        if not cfg["prices"]["opf"].get("grid_case"):
            col.add("prices.source = 'opf' needs prices.opf.grid_case", file="case.toml", field="prices.opf.grid_case",
                    code="E-PRICE")


# ---------------------------------------------------------------------------------------------
# warnings
# ---------------------------------------------------------------------------------------------


def asymmetric_pairs(case: MessCase) -> list[str]:
    """Node pairs whose two directions differ in length or where one direction is missing (§2.6)."""
    km = {(a, b): float(d) for a, b, d in zip(case.arcs["from"], case.arcs["to"], case.arcs["length_km"],
                                                strict=True)}
    out: list[str] = []
    for (a, b), d in km.items():
        back = km.get((b, a))
        if back is None:
            out.append(f"{a}→{b} = {d:g} but {b}→{a} missing")
        elif _key(a) < _key(b) and back != d:
            out.append(f"{a}↔{b} {d:g}/{back:g}")
    return out


def _key(x: Any) -> tuple[int, Any]:
    return (0, x) if isinstance(x, (int, np.integer)) else (1, str(x))


def _warn_asym(case: MessCase, col: IssueCollector) -> None:
    pairs = asymmetric_pairs(case)
    if pairs:
        col.warn("asymmetric roads kept as directed arcs: " + "; ".join(pairs), file="arcs.csv", code="W-ASYM")


def grade_loop(case: MessCase, max_cycles: int = 200_000) -> tuple[list[Any], float] | None:
    """The simple directed loop with the largest net descent (Σ length·grade/100, km), or None."""
    ids = list(case.nodes["id"])
    idx = {n: i for i, n in enumerate(ids)}
    adj: list[list[tuple[int, float]]] = [[] for _ in ids]
    for a, b, d, g in zip(case.arcs["from"], case.arcs["to"], case.arcs["length_km"], case.arcs["grade_pct"],
                          strict=True):
        if a in idx and b in idx and a != b:
            adj[idx[a]].append((idx[b], float(d) * float(g) / 100.0))
    best: tuple[list[int], float] | None = None
    count = 0
    for s in range(len(ids)):
        # DFS over simple paths starting at s through nodes > s (each cycle found once, from its lowest node)
        stack: list[tuple[int, int, float]] = [(s, 0, 0.0)]
        path = [s]
        on = {s}
        while stack:
            u, k, rise = stack[-1]
            if k >= len(adj[u]):
                stack.pop()
                on.discard(path.pop())
                continue
            stack[-1] = (u, k + 1, rise)
            v, dr = adj[u][k]
            if v == s and len(path) >= 2:
                count += 1
                tot = rise + dr
                if best is None or tot < best[1] - 1e-12:
                    best = (list(path) + [s], tot)
                if count >= max_cycles:
                    break
            elif v > s and v not in on:
                path.append(v)
                on.add(v)
                stack.append((v, 0, rise + dr))
        if count >= max_cycles:
            break
    if best is None or best[1] >= -1e-9:
        return None
    return [ids[i] for i in best[0]], best[1]


def _warn_grade_loop(case: MessCase, col: IssueCollector) -> None:
    res = grade_loop(case)
    if res is not None:
        loop, rise = res
        col.warn(f"grades imply path-dependent elevations: loop {'→'.join(map(str, loop))} descends "
                 f"{-rise:.6g} km net (regeneration < 100 %, the regen power cap and the SoC cap bound any gain)",
                 file="arcs.csv", code="W-GRADE-LOOP")


def _check_reachable(case: MessCase, col: IssueCollector) -> None:
    """Road part of E-UNREACHABLE: every site must be reachable from the depot and back (energy part: optimiser)."""
    dep = case.depot
    ids = list(case.nodes["id"])
    idx = {n: i for i, n in enumerate(ids)}
    if dep not in idx:
        return
    dist = dijkstra(road_matrix_km(case), directed=True)
    d0 = idx[dep]
    for r, n in enumerate(case.sites["node"], start=1):
        if n not in idx:
            continue
        if not np.isfinite(dist[d0, idx[n]]):
            col.add(f"site {n}: no road path from depot {dep}", file="sites.csv", row=r, field="node",
                    code="E-UNREACHABLE")
        elif not np.isfinite(dist[idx[n], d0]):
            col.add(f"site {n}: no road path back to depot {dep}", file="sites.csv", row=r, field="node",
                    code="E-UNREACHABLE")


def _warn_not_fifo(case: MessCase, col: IssueCollector) -> None:
    tr = case.config["traffic"]
    if tr["model"] != "prototype" or not tr.get("segments"):
        return
    bounds = sorted({t for s in tr["segments"] for t in (s["start"], s["end"])})
    col.warn("traffic.model = 'prototype' picks the speed once from the departure time, so travel times are not "
             "FIFO at segment boundaries (" + ", ".join(_hm(b) for b in bounds) + "): leaving later can arrive "
             "earlier and the optimiser may wait to exploit it", file="case.toml", code="W-NOT-FIFO")


# ---------------------------------------------------------------------------------------------
# road graph
# ---------------------------------------------------------------------------------------------


def road_matrix_km(case: MessCase) -> sp.csr_matrix:
    """Sparse directed adjacency (rows/cols in ``case.nodes`` order) with arc lengths in km."""
    ids = list(case.nodes["id"])
    idx = {n: i for i, n in enumerate(ids)}
    r = np.array([idx[a] for a in case.arcs["from"]], dtype=np.int64)
    c = np.array([idx[b] for b in case.arcs["to"]], dtype=np.int64)
    d = case.arcs["length_km"].to_numpy(dtype=float)
    return sp.csr_matrix((d, (r, c)), shape=(len(ids), len(ids)))


def distance_matrix_km(case: MessCase) -> pd.DataFrame:
    """All-pairs shortest road distance in km (``inf`` = unreachable), indexed by node id."""
    ids = list(case.nodes["id"])
    dist = dijkstra(road_matrix_km(case), directed=True)
    return pd.DataFrame(dist, index=ids, columns=ids)


def shortest_path(case: MessCase, frm: NodeId, to: NodeId) -> tuple[float, list[NodeId]]:
    """Shortest road path by km ``frm → … → to``; ``(inf, [])`` if unreachable."""
    ids = list(case.nodes["id"])
    idx = {n: i for i, n in enumerate(ids)}
    if frm not in idx or to not in idx:
        raise CaseError(f"node {frm if frm not in idx else to} not in nodes.csv", code="E-NODE-UNKNOWN")
    dist, pred = dijkstra(road_matrix_km(case), directed=True, indices=idx[frm], return_predecessors=True)
    j = idx[to]
    if not np.isfinite(dist[j]):
        return math.inf, []
    path = [j]
    while path[-1] != idx[frm]:
        path.append(int(pred[path[-1]]))
    return float(dist[j]), [ids[i] for i in reversed(path)]
