"""Plan invariants of mess.md §9 (checks 3–6) and the trip rules of §6.1, as functions returning violations.

Every function takes an :class:`~tenflow.mess.evaluate.Evaluation` (the independent replay of a plan) and returns
a list of human-readable violation strings (empty = the invariant holds). :func:`check_plan` runs them all.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tenflow.mess.evaluate import TOL_KWH, EvalContext, Evaluation, _key, level_floor


def _trip_label(r: Any) -> str:
    return f"trip {r['trip']} (truck {r['truck']}, site {r['site']})"


def check_structure(ev: Evaluation) -> list[str]:
    """Trip paths of §6.1 rule 1: contiguous arcs, start (depot, j₀, q_dep), first arc travel or depot charge,
    exactly one swap at the trip's site, end at the depot with q ≥ q_dep, grid steps inside [0, J], correct arc
    durations (travel n = ⌈τ/Δ − ε⌉, wait/charge 1 step, swap n_σ), waiting only at non-junction nodes, charging
    only at chargers/depot within the per-step limit and [q_min, q_max]."""
    ctx: EvalContext = ev.ctx
    a = ev.arcs
    out: list[str] = []
    for trip, g in a.groupby("trip", sort=True):
        tr = ev.trips[ev.trips["trip"] == trip].iloc[0]
        ti = ctx.types[str(tr["type"])]
        lab = _trip_label(tr)
        if _key(tr["truck"]) not in ti.ids:
            out.append(f"{lab}: truck {tr['truck']} is not of type {ti.name}")
        g = g.sort_values("seq")
        frm = g["frm"].map(_key).to_numpy()
        to = g["to"].map(_key).to_numpy()
        if frm[0] != ctx.depot_key or to[-1] != ctx.depot_key:
            out.append(f"{lab}: does not start and end at the depot")
        if g["kind"].iloc[0] not in ("travel", "charge") or (g["kind"].iloc[0] == "charge"
                                                             and frm[0] != ctx.depot_key):
            out.append(f"{lab}: first arc must be a travel or a depot charging arc")
        if int(g["q_from"].iloc[0]) != ti.qdep:
            out.append(f"{lab}: starts at level {g['q_from'].iloc[0]} != q_dep {ti.qdep}")
        if int(g["q_to"].iloc[-1]) < ti.qdep:
            out.append(f"{lab}: ends at level {g['q_to'].iloc[-1]} < q_dep {ti.qdep}")
        if (frm[1:] != to[:-1]).any():
            out.append(f"{lab}: arcs are not contiguous in space")
        jf, jt = g["j_from"].to_numpy(), g["j_to"].to_numpy()
        qf, qt = g["q_from"].to_numpy(), g["q_to"].to_numpy()
        if (jf[1:] != jt[:-1]).any():
            out.append(f"{lab}: arcs are not contiguous in time")
        if (qf[1:] != qt[:-1]).any():
            out.append(f"{lab}: SoC levels are not contiguous between arcs")
        if jf.min() < 0 or jt.max() > ctx.J:
            out.append(f"{lab}: outside the grid [0, {ctx.J}]")
        nsw = int((g["kind"] == "swap").sum())
        if nsw != 1:
            out.append(f"{lab}: {nsw} swaps (exactly one required)")
        for _, r in g.iterrows():
            k = r["kind"]
            where = f"{lab} arc {r['seq']} ({k} {r['frm']}→{r['to']} at step {r['j_from']})"
            n = int(r["j_to"]) - int(r["j_from"])
            if k == "travel":
                if n != int(r["n_steps_phys"]):
                    out.append(f"{where}: {n} steps, physics needs {r['n_steps_phys']}")
                if int(r["q_to"]) != int(r["q_end_phys"]):
                    out.append(f"{where}: end level {r['q_to']} != conservative level {r['q_end_phys']} of the "
                               f"replayed energy {r['e_end_kwh']:.6f} kWh")
            elif k in ("wait", "charge"):
                if n != 1:
                    out.append(f"{where}: lasts {n} steps (1 required)")
                if _key(r["frm"]) != _key(r["to"]):
                    out.append(f"{where}: changes node")
                if k == "wait":
                    if ctx.roles.get(_key(r["frm"])) == "junction":
                        out.append(f"{where}: waiting at a junction")
                    if r["q_to"] != r["q_from"]:
                        out.append(f"{where}: level changes while waiting")
                else:
                    dq = int(r["q_to"]) - int(r["q_from"])
                    if dq <= 0:
                        out.append(f"{where}: charges {dq} levels (must be > 0)")
                    if dq > int(r["charge_cap_q"]):
                        out.append(f"{where}: charges {dq} levels > per-step limit {r['charge_cap_q']}")
            elif k == "swap":
                if n != ctx.n_sigma:
                    out.append(f"{where}: lasts {n} steps, service needs {ctx.n_sigma}")
                if _key(r["frm"]) != _key(tr["site"]):
                    out.append(f"{where}: swap at {r['frm']} but the trip serves site {tr['site']}")
                if _key(r["frm"]) not in ctx.sites:
                    out.append(f"{where}: node {r['frm']} is not a site")
                else:
                    si = ctx.sites[_key(r["frm"])]
                    if abs(si.pack_kwh - ti.pack_kwh) > 1e-9:
                        out.append(f"{where}: truck pack {ti.pack_kwh} kWh != site pack {si.pack_kwh} kWh")
            else:
                out.append(f"{where}: unknown arc kind '{k}'")
    return out


def check_energy_balance(ev: Evaluation) -> list[str]:
    """§9 check 3: per trip q_end − q_dep = Σ charged − Σ travel drops − q_del + b (buckets); per leg the replayed
    continuous end energy minus the grid energy lies in [0, δ)."""
    a = ev.arcs
    out: list[str] = []
    for trip, g in a.groupby("trip", sort=True):
        ch = int((g.loc[g["kind"] == "charge", "q_to"] - g.loc[g["kind"] == "charge", "q_from"]).sum())
        trv = g[g["kind"] == "travel"]
        drops = int((trv["q_from"] - trv["q_to"]).sum())
        sw = g[g["kind"] == "swap"]
        qdel = int(sw["q_from"].sum())
        b = int(sw["q_to"].sum())
        lhs = int(g["q_to"].iloc[-1]) - int(g["q_from"].iloc[0])
        if lhs != ch - drops - qdel + b:
            out.append(f"trip {trip}: q_end − q_dep = {lhs} but charged {ch} − drops {drops} − q_del {qdel} + b {b}"
                       f" = {ch - drops - qdel + b}")
        d = trv["delta"].to_numpy(float)
        gap = trv["e_end_kwh"].to_numpy(float) - trv["q_to"].to_numpy(float) * d
        bad = (gap < -TOL_KWH) | (gap >= d - 1e-9)
        for (_, r), x in zip(trv[bad].iterrows(), gap[bad], strict=True):
            out.append(f"trip {trip} leg {r['frm']}→{r['to']} at step {r['j_from']}: continuous − grid energy "
                       f"{x:.6f} kWh not in [0, {r['delta']:g})")
    return out


def check_soc_bounds(ev: Evaluation) -> list[str]:
    """§9 check 4: truck packs within [soc_min, soc_max] at every arc end and along every leg; site packs ≥ reserve
    over their periods (exact energies); last pack ≥ end_soc_min at work end."""
    ctx = ev.ctx
    a = ev.arcs
    out: list[str] = []
    qmin = a["type"].map(lambda k: ctx.types[k].qmin).to_numpy()
    qmax = a["type"].map(lambda k: ctx.types[k].qmax).to_numpy()
    for col in ("q_from", "q_to"):
        q = a[col].to_numpy()
        bad = (q < qmin) | (q > qmax)
        for _, r in a[bad].iterrows():
            out.append(f"trip {r['trip']} arc {r['seq']}: level {r[col]} outside [{ctx.types[r['type']].qmin}, "
                       f"{ctx.types[r['type']].qmax}]")
    trv = a[a["kind"] == "travel"]
    low = trv["e_low_kwh"].to_numpy(float)
    lim = trv["type"].map(lambda k: ctx.types[k].qmin).to_numpy(float) * trv["delta"].to_numpy(float)
    for _, r in trv[low < lim - TOL_KWH].iterrows():
        out.append(f"trip {r['trip']} leg {r['frm']}→{r['to']} at step {r['j_from']}: pack drops to "
                   f"{r['e_low_kwh']:.4f} kWh < soc_min")
    per = ev.site_periods
    for _, p in per.iterrows():
        si = ctx.sites[_key(p["site"])]
        if p["e_min"] < si.reserve_kwh - TOL_KWH:
            out.append(f"site {p['site']} pack period {p['period']}: energy falls to {p['e_min']:.4f} kWh < reserve "
                       f"{si.reserve_kwh:g} kWh")
    for site, g in per.groupby("site", sort=False):
        last = g.sort_values("period").iloc[-1]
        si = ctx.sites[_key(site)]
        if last["e_remove"] < si.end_kwh - TOL_KWH:
            out.append(f"site {site}: last pack has {last['e_remove']:.4f} kWh at work end < {si.end_kwh:g} kWh")
    return out


def check_swaps(ev: Evaluation) -> list[str]:
    """§9 check 5: removed pack's exact energy at completion ≥ reserve and b = its conservative level; swaps inside
    windows (arrival ≥ window_start, completion ≤ window_end); one swap at a time per site."""
    ctx = ev.ctx
    a = ev.arcs
    out: list[str] = []
    sw = a[a["kind"] == "swap"].copy()
    sw["site"] = sw["frm"].map(_key)
    per = ev.site_periods
    for skey, g in sw.groupby("site", sort=False):
        if skey not in ctx.sites:
            continue
        si = ctx.sites[skey]
        g = g.sort_values(["j_to", "trip"])
        ws = ctx.step_of(si.ws, up=True)
        we = ctx.step_of(si.we, up=False)
        for _, r in g.iterrows():
            if r["j_from"] < ws or r["j_to"] > we:
                out.append(f"site {skey} trip {r['trip']}: swap {r['j_from']}–{r['j_to']} outside window steps "
                           f"[{ws}, {we}]")
        jf, jt = g["j_from"].to_numpy(), g["j_to"].to_numpy()
        if (jf[1:] < jt[:-1]).any():
            out.append(f"site {skey}: overlapping swaps")
        p = per[per["site"].map(_key) == skey].sort_values("period")
        rem = p[p["j_remove"] >= 0]
        for (_, r), (_, s) in zip(rem.iterrows(), g.iterrows(), strict=False):
            if r["e_remove"] < si.reserve_kwh - TOL_KWH:
                out.append(f"site {skey}: pack removed at step {r['j_remove']} (trip {s['trip']}) has "
                           f"{r['e_remove']:.4f} kWh < reserve {si.reserve_kwh:g} kWh (depleted before the swap)")
            b = int(level_floor(r["e_remove"] / (si.pack_kwh / ctx.L)))
            if int(s["q_to"]) != b:
                out.append(f"site {skey} trip {s['trip']}: truck continues with level {s['q_to']} but the removed "
                           f"pack's energy {r['e_remove']:.4f} kWh gives level {b}")
    return out


def check_fleet(ev: Evaluation) -> list[str]:
    """§9 check 6: per type and step trips in progress ≤ count; per charger and step charging trucks ≤ plugs; trips
    of one truck do not overlap; trips within truck availability."""
    ctx = ev.ctx
    tr = ev.trips
    out: list[str] = []
    J = ctx.J
    for name, ti in ctx.types.items():
        g = tr[tr["type"].map(str) == name]
        if not len(g):
            continue
        occ = np.zeros(J + 1, dtype=np.int64)
        j0 = g["j_start"].to_numpy(int)
        je = g["j_end"].to_numpy(int)
        np.add.at(occ, j0, 1)
        np.add.at(occ, je, -1)
        occ = np.cumsum(occ)[:J]
        over = np.flatnonzero(occ > len(ti.ids))
        if len(over):
            out.append(f"type {name}: {occ[over].max()} trips in progress > {len(ti.ids)} trucks at steps "
                       f"{over[:5].tolist()}")
        early = g[(j0 < ti.a) | (je > ti.b)]
        for _, r in early.iterrows():
            out.append(f"{_trip_label(r)}: steps {r['j_start']}–{r['j_end']} outside availability [{ti.a}, {ti.b}]")
    for truck, g in tr.groupby("truck", sort=False):
        g = g.sort_values("j_start")
        s, e = g["j_start"].to_numpy(int), g["j_end"].to_numpy(int)
        if (s[1:] < e[:-1]).any():
            out.append(f"truck {truck}: overlapping trips {g['trip'].tolist()}")
    ch = ev.arcs[ev.arcs["kind"] == "charge"]
    for site, g in ch.groupby("charge_site", sort=False):
        info = ctx.chargers.get(site)
        if info is None or info.plugs <= 0:
            continue
        cnt = g.groupby("j_from").size()
        over = cnt[cnt > info.plugs]
        if len(over):
            out.append(f"charger {site}: {int(over.max())} trucks charging > {info.plugs} plugs at steps "
                       f"{over.index[:5].tolist()}")
    return out


def check_plan(ev: Evaluation) -> list[str]:
    """All invariants (structure, energy balance, SoC bounds, swaps, fleet/plugs); empty list = feasible in P_Δ."""
    out: list[str] = []
    for f in (check_structure, check_energy_balance, check_soc_bounds, check_swaps, check_fleet):
        out.extend(f(ev))
    return out


def violations_frame(v: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"violation": v})
