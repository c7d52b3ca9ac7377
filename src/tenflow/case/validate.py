"""Cross-table validation of an OMTEPF case (omtepf.md §8.1, §8.2 step 1 "static checks").

Per-cell typing, ranges, missing files/columns, empty tables and duplicate ids of CSV files are checked by
:func:`tenflow.case.schema.read_table`; this module checks what needs several tables: references
(buffer, bus, EV, profile), finiteness, EV homes with parking, itinerary windows (overlap, horizon,
reachability by shortest path), grid connectivity to a generator and radiality of one-way grids.
Every problem becomes an :class:`tenflow.errors.Issue` naming file, 1-based row, field and reason.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tenflow.case import derived
from tenflow.case import tables as T
from tenflow.errors import IssueCollector

if TYPE_CHECKING:
    from tenflow.case.model import Case

_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def validate_case(case: Case) -> IssueCollector:
    """Run every cross-table check; return the collector (call ``.raise_if_any()``)."""
    iss = IssueCollector()
    _check_sections(case, iss)
    _check_frames(case, iss)
    if iss:  # references below assume well-typed tables
        return iss
    buffers = set(case.buffer_ids)
    buses = set(case.bus_ids)
    evs = set(case.ev_ids)
    profiles = set(case.profiles.columns) - {"k"}

    def ref(comp: T.Component, col: str, allowed: set[str], what: str) -> None:
        df = case.table(comp.name)
        bad = ~df[col].isin(allowed).to_numpy()
        for i in np.flatnonzero(bad):
            iss.add(f"unknown {what} '{df[col].iat[i]}'", file=comp.filename, row=int(i) + 1, field=col)

    def bus_ref(comp: T.Component, col: str) -> None:
        df = case.table(comp.name)
        for i in np.flatnonzero(~df[col].isin(buses).to_numpy()):
            v = df[col].iat[i]
            why = "is a buffer without a bus (is_bus = false)" if v in buffers else "does not exist"
            iss.add(f"bus '{v}' {why}", file=comp.filename, row=int(i) + 1, field=col)

    ref(T.ROADS, "a", buffers, "buffer")
    ref(T.ROADS, "b", buffers, "buffer")
    ref(T.PARKING, "buffer", buffers, "buffer")
    bus_ref(T.CHARGERS, "buffer")
    bus_ref(T.LINES, "from")
    bus_ref(T.LINES, "to")
    bus_ref(T.GENERATORS, "bus")
    bus_ref(T.VARIABLE_GENERATORS, "bus")
    bus_ref(T.LOADS, "bus")
    ref(T.VARIABLE_GENERATORS, "profile", profiles, "profile (not a column of profiles.csv)")
    ref(T.LOADS, "g_profile", profiles, "profile (not a column of profiles.csv)")
    ref(T.EVS, "home", buffers, "buffer")
    ref(T.ITINERARIES, "ev", evs, "EV")
    ref(T.ITINERARIES, "buffer", buffers, "buffer")
    for comp in (T.PARKING, T.CHARGERS):
        df = case.table(comp.name)
        for i, spec in enumerate(df["eligible"]):
            kind, ids = derived.parse_eligible(spec)
            if kind == "ids":
                if not ids:
                    iss.add("empty eligibility list (use 'all', 'home' or EV ids separated by ';')",
                            file=comp.filename, row=i + 1, field="eligible")
                for t in ids:
                    if t not in evs:
                        iss.add(f"unknown EV '{t}'", file=comp.filename, row=i + 1, field="eligible")
    _check_roads(case, iss, buffers, buses)
    _check_lines(case, iss)
    if iss:
        return iss
    _check_evs(case, iss)
    _check_itineraries(case, iss)
    _check_grid(case, iss)
    return iss


def _check_sections(case: Case, iss: IssueCollector) -> None:
    f = "case.toml"
    if not _TIME.match(str(case.meta.get("start_time", ""))):
        iss.add(f"start_time = {case.meta.get('start_time')!r} (expected HH:MM)", file=f, field="meta.start_time")
    if case.options["wireless_net_soc"] not in (0, 2):
        iss.add(f"wireless_net_soc = {case.options['wireless_net_soc']} (must be 0 = semantics A or 2 = B)",
                file=f, field="options.wireless_net_soc")
    if not case.options["v_min"] < case.options["v_max"]:
        iss.add(f"v_min = {case.options['v_min']} must be < v_max = {case.options['v_max']}", file=f,
                field="options.v_min")
    for sec in T.SECTIONS:
        for a in sec.attrs:
            v = getattr(case, sec.name).get(a.name)
            if a.dtype == "float" and isinstance(v, float) and not math.isfinite(v):
                iss.add(f"{sec.name}.{a.name} = {v} is not finite", file=f, field=f"{sec.name}.{a.name}")


def _check_frames(case: Case, iss: IssueCollector) -> None:
    """Required values present, ranges, finiteness, choices and duplicate keys (for in-memory cases too)."""
    for comp in T.TABLES:
        df = case.table(comp.name)
        if len(df) == 0 and not comp.allow_empty:
            iss.add("table is empty (header only)", file=comp.filename)
        for a in comp.attrs:
            col = df[a.name]
            if a.dtype == "float":
                x = col.to_numpy(dtype=float)
                nan_ok = isinstance(a.default, float) and math.isnan(a.default)
                bad_nan = np.isnan(x) & (not nan_ok)
                for i in np.flatnonzero(bad_nan):
                    iss.add("NaN is not allowed", file=comp.filename, row=int(i) + 1, field=a.name)
                for i in np.flatnonzero(np.isinf(x)):
                    iss.add(f"{a.name} = {x[i]} is not finite", file=comp.filename, row=int(i) + 1, field=a.name)
                fin = np.isfinite(x)
                checks = []
                if a.positive:
                    checks.append((fin & ~(x > 0), "must be > 0"))
                if a.min is not None:
                    checks.append((fin & (x < a.min), f"must be >= {a.min:g}"))
                if a.max is not None:
                    checks.append((fin & (x > a.max), f"must be <= {a.max:g}"))
                for mask, why in checks:
                    for i in np.flatnonzero(mask):
                        iss.add(f"{a.name} = {x[i]:g} ({why})", file=comp.filename, row=int(i) + 1, field=a.name)
            elif a.dtype == "int":
                x = col.to_numpy(dtype=np.int64)
                checks = []
                if a.positive:
                    checks.append((~(x > 0), "must be > 0"))
                if a.min is not None:
                    checks.append((x < a.min, f"must be >= {a.min:g}"))
                if a.max is not None:
                    checks.append((x > a.max, f"must be <= {a.max:g}"))
                for mask, why in checks:
                    for i in np.flatnonzero(mask):
                        iss.add(f"{a.name} = {x[i]} ({why})", file=comp.filename, row=int(i) + 1, field=a.name)
            elif a.dtype == "str":
                vals = col.to_numpy(dtype=object)
                if a.required:
                    empty = (col.isna() | (col.astype(str).str.strip() == "")).to_numpy()
                    for i in np.flatnonzero(empty):
                        iss.add("empty cell in a required column", file=comp.filename, row=int(i) + 1, field=a.name)
                if a.choices:
                    for i in np.flatnonzero(~np.isin(vals.astype(str), list(a.choices))):
                        iss.add(f"{a.name} = '{vals[i]}' (must be one of {', '.join(a.choices)})",
                                file=comp.filename, row=int(i) + 1, field=a.name)
        if comp.key and len(df):
            dup = df.duplicated(subset=list(comp.key), keep="first").to_numpy()
            for i in np.flatnonzero(dup):
                key = ", ".join(f"{k}={df[k].iat[i]}" for k in comp.key)
                iss.add(f"duplicate id ({key})", file=comp.filename, row=int(i) + 1, field=comp.key[0])
    pr = case.profiles
    if len(pr) != case.K:
        iss.add(f"profile length {len(pr)} != K = {case.K}", file="profiles.csv")
    for c in pr.columns[1:]:
        x = pr[c].to_numpy(dtype=float)
        for i in np.flatnonzero(~np.isfinite(x))[:5]:
            iss.add(f"{x[i]} is not finite", file="profiles.csv", row=int(i) + 1, field=str(c))


def _check_roads(case: Case, iss: IssueCollector, buffers: set[str], buses: set[str]) -> None:
    r = case.roads
    f = T.ROADS.filename
    for i in np.flatnonzero((r["a"] == r["b"]).to_numpy()).tolist():
        iss.add(f"road joins buffer '{r['a'].iat[i]}' to itself", file=f, row=int(i) + 1, field="b")
    for i in range(len(r)):
        if r["charge_mode"].iat[i] == "none":
            continue
        cb = str(r["charge_bus"].iat[i])
        ends = {"origin": [r["a"].iat[i]] + ([r["b"].iat[i]] if r["two_way"].iat[i] else []),
                "destination": [r["b"].iat[i]] + ([r["a"].iat[i]] if r["two_way"].iat[i] else [])}
        cand = ends.get(cb, [cb])
        for bus in cand:
            if bus not in buses:
                why = "is a buffer without a bus" if bus in buffers else "does not exist"
                iss.add(f"charge_bus '{cb}' resolves to bus '{bus}', which {why}", file=f, row=i + 1,
                        field="charge_bus")
        if not r["charge_rate"].iat[i] > 0:
            iss.add(f"electrified road ({r['charge_mode'].iat[i]}) needs charge_rate > 0", file=f, row=i + 1,
                    field="charge_rate")


def _check_lines(case: Case, iss: IssueCollector) -> None:
    ln = case.lines
    f = T.LINES.filename
    for i in np.flatnonzero(((ln["g"] == 0) & (ln["b"] == 0)).to_numpy()):
        iss.add("admittance g + jb = 0 (an open line; remove it instead)", file=f, row=int(i) + 1, field="g")
    for i in np.flatnonzero((ln["from"] == ln["to"]).to_numpy()):
        iss.add(f"line joins bus '{ln['from'].iat[i]}' to itself", file=f, row=int(i) + 1, field="to")


def _check_evs(case: Case, iss: IssueCollector) -> None:
    ev = case.evs
    f = T.EVS.filename
    for col in ("soc_init", "soc_final"):
        for i in np.flatnonzero((ev[col] > ev["battery"]).to_numpy()):
            iss.add(f"{col} = {ev[col].iat[i]:g} exceeds battery = {ev['battery'].iat[i]:g}", file=f,
                    row=int(i) + 1, field=col)
    elig = derived.eligibility(case, case.parking)  # lots x evs
    at_home = case.parking["buffer"].to_numpy(dtype=object)[:, None] == ev["home"].to_numpy(dtype=object)[None, :]
    ok = (elig & at_home).any(axis=0)
    for i in np.flatnonzero(~ok):
        iss.add(f"EV '{ev['id'].iat[i]}': home '{ev['home'].iat[i]}' has no parking lot it may use",
                file=f, row=int(i) + 1, field="home")


def _check_itineraries(case: Case, iss: IssueCollector) -> None:
    f = T.ITINERARIES.filename
    K = case.K
    it = derived.itinerary_windows(case)
    if len(it) == 0:
        return
    row = it["row"].to_numpy() + 1
    kf = it["k_from"].to_numpy()
    kt = it["k_to"].to_numpy()
    for j in np.flatnonzero(kf > kt):
        iss.add(f"EV '{it['ev'].iat[j]}': window k_from = {kf[j]} > k_to = {kt[j]}", file=f, row=int(row[j]),
                field="k_to")
    for j in np.flatnonzero(kt > K - 1):
        iss.add(f"EV '{it['ev'].iat[j]}': window {kf[j]}..{kt[j]} leaves the horizon 0..{K - 1}", file=f,
                row=int(row[j]), field="k_to")
    same = (it["ev"].to_numpy(dtype=object)[1:] == it["ev"].to_numpy(dtype=object)[:-1])
    overl = same & (kf[1:] <= kt[:-1])
    for j in np.flatnonzero(overl) + 1:
        iss.add(f"EV '{it['ev'].iat[j]}': window {kf[j]}..{kt[j]} overlaps window {kf[j - 1]}..{kt[j - 1]} "
                f"(row {row[j - 1]})", file=f, row=int(row[j]), field="k_from")
    if iss:
        return
    # stays: the EV must be able to park there
    elig = derived.eligibility(case, case.parking)
    evpos = pd.Index(case.evs["id"]).get_indexer(it["ev"])
    lots = case.parking["buffer"].to_numpy(dtype=object)
    stay = (it["activity"] == "stay").to_numpy()
    bufs = it["buffer"].to_numpy(dtype=object)
    can_park = ((lots[:, None] == bufs[None, :]) & elig[:, evpos]).any(axis=0)
    for j in np.flatnonzero(stay & ~can_park):
        iss.add(f"EV '{it['ev'].iat[j]}': stay at buffer '{bufs[j]}' (window {kf[j]}..{kt[j]}) but no parking "
                f"lot there is eligible for it", file=f, row=int(row[j]), field="buffer")
    # consecutive windows: a stay at another buffer than where the EV is needs a travel window first
    origin = it["origin"].to_numpy(dtype=object)
    for j in np.flatnonzero(stay & (origin != bufs)):
        iss.add(f"EV '{it['ev'].iat[j]}': stay at '{bufs[j]}' (window {kf[j]}..{kt[j]}) but the EV is at "
                f"'{origin[j]}' before it and no travel window leads there", file=f, row=int(row[j]),
                field="buffer")
    # travel reachable in time: window length >= shortest path (steps)
    dist = derived.shortest_steps(case)
    trav = np.flatnonzero(~stay)
    if len(trav):
        pos = pd.Index(dist.index)
        d = dist.to_numpy()[pos.get_indexer(origin[trav]), pos.get_indexer(bufs[trav])]
        length = kt[trav] - kf[trav] + 1
        late = d > length
        for j, dj, L in zip(trav[late], d[late], length[late], strict=True):
            what = "no road path" if math.isinf(dj) else f"the shortest path takes {int(dj)} steps"
            iss.add(f"EV '{it['ev'].iat[j]}': travel window {kf[j]}..{kt[j]} ({L} steps) from '{origin[j]}' to "
                    f"'{bufs[j]}' is unreachable in time: {what}", file=f, row=int(row[j]), field="k_to")


def _check_grid(case: Case, iss: IssueCollector) -> None:
    if not case.bus_ids:
        return
    islands = derived.grid_islands(case)
    gen_buses = set(case.generators["bus"])
    used = set(case.loads["bus"]) | set(case.chargers["buffer"]) | set(case.variable_generators["bus"]) | set(
        case.lines["from"]) | set(case.lines["to"]) | gen_buses
    for comp in islands:
        if not gen_buses & set(comp):
            if len(comp) == 1 and comp[0] not in used:
                continue  # an isolated bus with nothing attached is harmless
            iss.add(f"grid island without a generator: buses {', '.join(comp)}", file=T.LINES.filename,
                    field="from")
    ow = case.lines["one_way"].to_numpy(dtype=bool)
    if ow.any():
        n_bus = len(case.bus_ids)
        if len(case.lines) != n_bus - len(islands):
            extra = len(case.lines) - (n_bus - len(islands))
            rows = np.flatnonzero(ow)
            iss.add(f"one-way lines (rows {', '.join(str(int(r) + 1) for r in rows[:10])}"
                    f"{', ...' if len(rows) > 10 else ''}) require a radial grid, but the grid has {extra} "
                    f"loop(s) ({len(case.lines)} lines, {n_bus} buses, {len(islands)} component(s))",
                    file=T.LINES.filename, row=int(rows[0]) + 1, field="one_way")
