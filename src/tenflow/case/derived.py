"""Derived, vectorised views of a :class:`~tenflow.case.model.Case` shared by validation and the nets builder.

* :func:`arcs` — directed road arcs (arc ``2i-1`` = road ``i`` A→B, ``2i`` = B→A; omtepf.md §1.4);
* :func:`eligibility` — which EVs may use which parking lot / charger (``all`` | ``home`` | ids; §3.5);
* :func:`shortest_steps` — shortest travel time in steps between buffers (§8.2 itinerary check);
* :func:`ev_steps` — the itinerary expanded to one row per (EV, step): mode, required buffer, origin, charge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

if TYPE_CHECKING:
    from tenflow.case.model import Case

#: codes of ``ev_steps().mode``
FREE, STAY, TRAVEL = 0, 1, 2


def arcs(case: Case) -> pd.DataFrame:
    """Directed arcs of the roads, road-major (A→B, then B→A for two-way roads).

    Columns: ``road`` (id), ``road_row`` (row in roads.csv, 0-based), ``direction`` ('AB'|'BA'), ``origin``,
    ``dest`` (buffer ids), ``capacity``, ``travel_steps``, ``depletion``, ``cost``, ``charge_mode``,
    ``charge_rate``, ``current_re``, ``current_im``, ``charge_bus`` (resolved bus id or None).
    """
    r = case.roads
    n = len(r)
    two = r["two_way"].to_numpy(dtype=bool)
    rows = np.repeat(np.arange(n), np.where(two, 2, 1))
    # second arc of a two-way road: position within its road
    first = np.r_[True, rows[1:] != rows[:-1]] if len(rows) else np.zeros(0, bool)
    a = r["a"].to_numpy(dtype=object)[rows]
    b = r["b"].to_numpy(dtype=object)[rows]
    origin = np.where(first, a, b)
    dest = np.where(first, b, a)
    out = pd.DataFrame({
        "road": r["id"].to_numpy(dtype=object)[rows],
        "road_row": rows.astype("int64"),
        "direction": np.where(first, "AB", "BA").astype(object),
        "origin": origin.astype(object),
        "dest": dest.astype(object),
    })
    for c in ("capacity", "travel_steps", "depletion", "cost", "charge_mode", "charge_rate", "current_re",
              "current_im"):
        out[c] = r[c].to_numpy()[rows]
    cb = r["charge_bus"].to_numpy(dtype=object)[rows]
    mode = out["charge_mode"].to_numpy(dtype=object)
    bus = np.where(cb == "origin", origin, np.where(cb == "destination", dest, cb))
    out["charge_bus"] = np.where(mode == "none", np.full(len(bus), None, dtype=object), bus).astype(object)
    return out


def parse_eligible(spec: str) -> tuple[str, list[str]]:
    """Split an ``eligible`` cell into ``(kind, ids)`` with kind ``all`` | ``home`` | ``ids``."""
    s = str(spec).strip()
    if s in ("all", "home"):
        return s, []
    return "ids", [t.strip() for t in s.split(";") if t.strip()]


def eligibility(case: Case, table: pd.DataFrame) -> np.ndarray:
    """Boolean matrix ``(len(table), n_ev)``: EV ``v`` may use row ``r`` of a parking/charger table.

    ``eligible = all`` → every EV; ``home`` → EVs whose ``home`` equals the row's ``buffer``; otherwise a
    ';'-separated list of EV ids (unknown ids are ignored here and reported by validation).
    """
    ev_ids = case.evs["id"].to_numpy(dtype=object)
    homes = case.evs["home"].to_numpy(dtype=object)
    n, m = len(table), len(ev_ids)
    out = np.zeros((n, m), dtype=bool)
    if n == 0 or m == 0:
        return out
    spec = table["eligible"].astype(str).str.strip().to_numpy(dtype=object)
    buf = table["buffer"].to_numpy(dtype=object)
    out |= (spec == "all")[:, None]
    out |= (spec == "home")[:, None] & (buf[:, None] == homes[None, :])
    lists = ~np.isin(spec, ["all", "home"])
    if lists.any():
        pos = {e: j for j, e in enumerate(ev_ids)}
        rr: list[int] = []
        cc: list[int] = []
        for i in np.flatnonzero(lists):  # one small list per row with explicit ids
            for t in parse_eligible(spec[i])[1]:
                if t in pos:
                    rr.append(int(i))
                    cc.append(pos[t])
        out[rr, cc] = True
    return out


def shortest_steps(case: Case, arc_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """All-pairs shortest travel time in steps over the directed arcs (inf = unreachable)."""
    ids = case.buffers["id"].to_numpy(dtype=object)
    pos = pd.Index(ids)
    a = arcs(case) if arc_table is None else arc_table
    n = len(ids)
    oi = pos.get_indexer(a["origin"])
    di = pos.get_indexer(a["dest"])
    ok = (oi >= 0) & (di >= 0)
    w = pd.DataFrame({"o": oi[ok], "d": di[ok], "w": a["travel_steps"].to_numpy(dtype=float)[ok]})
    w = w.groupby(["o", "d"], as_index=False)["w"].min()
    g = sparse.csr_matrix((w["w"].to_numpy(), (w["o"].to_numpy(), w["d"].to_numpy())), shape=(n, n))
    dist = csgraph.shortest_path(g, method="D", directed=True)
    return pd.DataFrame(dist, index=ids, columns=ids)


def itinerary_windows(case: Case) -> pd.DataFrame:
    """Itinerary rows sorted by (EV, k_from) with the travel ``origin`` resolved.

    ``origin`` of a window = ``buffer`` of the EV's previous window, or the EV's home for its first window.
    Column ``row`` is the 0-based row in itineraries.csv.
    """
    it = case.itineraries.copy()
    it["row"] = np.arange(len(it), dtype="int64")
    it = it.sort_values(["ev", "k_from", "seq"], kind="stable").reset_index(drop=True)
    home = dict(zip(case.evs["id"], case.evs["home"], strict=True))
    prev = it.groupby("ev", sort=False)["buffer"].shift(1)
    it["origin"] = prev.where(prev.notna(), it["ev"].map(home)).astype(object)
    return it


def ev_steps(case: Case) -> pd.DataFrame:
    """One row per (EV, step) in EV-major order: ``ev``, ``k``, ``mode`` (0 free, 1 stay, 2 travel),
    ``buffer`` (stay: where; travel: destination; free: None), ``origin`` (travel only), ``charge`` (bool).
    """
    ev_ids = case.evs["id"].to_numpy(dtype=object)
    K = case.K
    n = len(ev_ids)
    mode = np.zeros((n, K), dtype=np.int8)
    buf = np.full((n, K), None, dtype=object)
    org = np.full((n, K), None, dtype=object)
    chg = np.zeros((n, K), dtype=bool)
    it = itinerary_windows(case)
    if len(it):
        e = pd.Index(ev_ids).get_indexer(it["ev"])
        kf = it["k_from"].to_numpy()
        kt = np.minimum(it["k_to"].to_numpy(), K - 1)
        ok = (e >= 0) & (kf <= kt)
        lens = np.where(ok, kt - kf + 1, 0)
        rep = np.repeat(np.arange(len(it)), lens)
        offs = np.arange(len(rep)) - np.repeat(np.cumsum(lens) - lens, lens)
        ks = kf[rep] + offs
        ee = e[rep]
        act = it["activity"].to_numpy(dtype=object)
        mode[ee, ks] = np.where(act[rep] == "stay", STAY, TRAVEL)
        buf[ee, ks] = it["buffer"].to_numpy(dtype=object)[rep]
        org[ee, ks] = np.where(act[rep] == "travel", it["origin"].to_numpy(dtype=object)[rep],
                               np.full(len(rep), None, dtype=object))
        chg[ee, ks] = it["charge"].to_numpy(dtype=bool)[rep]
    return pd.DataFrame({
        "ev": np.repeat(ev_ids, K),
        "k": np.tile(np.arange(K, dtype="int64"), n),
        "mode": mode.ravel(),
        "buffer": buf.ravel(),
        "origin": org.ravel(),
        "charge": chg.ravel(),
    })


def grid_islands(case: Case) -> list[list[str]]:
    """Connected components of the bus graph (buses joined by lines), each as a list of bus ids."""
    bus = case.bus_ids
    pos = pd.Index(bus)
    f = pos.get_indexer(case.lines["from"])
    t = pos.get_indexer(case.lines["to"])
    ok = (f >= 0) & (t >= 0)
    n = len(bus)
    g = sparse.csr_matrix((np.ones(int(ok.sum())), (f[ok], t[ok])), shape=(n, n))
    ncomp, labels = csgraph.connected_components(g, directed=False)
    return [[bus[i] for i in np.flatnonzero(labels == c)] for c in range(ncomp)]
