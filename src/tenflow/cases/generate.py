"""Synthetic OMTEPF cases for scale tests, benchmarks and property tests (omtepf.md §8.3 scale-up).

:func:`grid_city` builds a valid case on an ``nx × ny`` road grid: boundary cells are neighbourhoods
(homes with parking and a home charger), the most central cells are workplaces (commercial lot, plugs,
optional V2G), interior cells intersections; a random subset of roads is electrified (inductive or wire);
a power plant bus feeds a radial grid (BFS spanning tree of the road grid, oriented away from the plant);
EVs commute home → work → home with windows long enough for the shortest path (§8.2 static checks).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from tenflow.case.model import Case

U = complex(0.9, -math.sqrt(1.0 - 0.81))


def grid_city(
    nx: int = 5,
    ny: int = 5,
    n_ev: int = 32,
    *,
    seed: int = 0,
    K: int = 57,
    n_work: int = 1,
    electrified: float = 0.1,
    one_way_roads: float = 0.0,
    v2g: bool = False,
    extra_lines: int = 0,
    name: str | None = None,
) -> Case:
    """A random but valid grid-city case.

    Parameters
    ----------
    nx, ny
        Grid size (≥ 2 each); buffers are the cells, roads the unit edges (two-way unless drawn one-way).
    n_ev
        Number of EVs (homes drawn uniformly among neighbourhoods).
    seed
        Random seed (numpy ``default_rng``).
    K
        Number of steps; must leave room for two commutes (≥ 2·(nx+ny) + 6).
    n_work
        Number of workplaces (cells closest to the centre).
    electrified
        Fraction of roads with charging (half inductive, half wire).
    one_way_roads
        Fraction of non-boundary roads made one-way (a boundary ring stays two-way, keeping the grid strongly
        connected).
    v2g
        Add a V2G charger at each workplace.
    extra_lines
        Extra lines closing loops in the grid (then lines are not one-way: the grid is not radial).
    """
    if nx < 2 or ny < 2:
        raise ValueError("grid_city needs nx, ny >= 2")
    rng = np.random.default_rng(seed)
    cells = [(x, y) for y in range(ny) for x in range(nx)]
    cid = {c: f"n{x}_{y}" for c, (x, y) in zip(cells, cells, strict=True)}
    boundary = {c for c in cells if c[0] in (0, nx - 1) or c[1] in (0, ny - 1)}
    cx, cy = (nx - 1) / 2, (ny - 1) / 2
    by_centre = sorted(cells, key=lambda c: (abs(c[0] - cx) + abs(c[1] - cy), c[1], c[0]))
    interior = [c for c in by_centre if c not in boundary]
    work = (interior or by_centre)[: max(1, n_work)]
    homes = [c for c in cells if c in boundary and c not in work]

    buffers = []
    for c in cells:
        kind = "commercial" if c in work else ("neighbourhood" if c in boundary else "intersection")
        buffers.append({"id": cid[c], "name": f"cell {c[0]},{c[1]}", "kind": kind, "x": float(c[0]),
                        "y": float(c[1]), "is_bus": True})
    buffers.append({"id": "plant", "name": "Power plant", "kind": "plant", "x": math.nan, "y": math.nan,
                    "is_bus": True})

    edges = [((x, y), (x + 1, y)) for y in range(ny) for x in range(nx - 1)] + [
        ((x, y), (x, y + 1)) for y in range(ny - 1) for x in range(nx)]
    roads = []
    for i, (a, b) in enumerate(edges, start=1):
        elec = rng.random() < electrified
        mode = ("inductive" if rng.random() < 0.5 else "wire") if elec else "none"
        ring = a in boundary and b in boundary
        two_way = ring or not (rng.random() < one_way_roads)
        cur = 0.08 * U
        roads.append({
            "id": f"R{i}", "a": cid[a], "b": cid[b], "two_way": bool(two_way),
            "capacity": int(rng.integers(2, 6)), "travel_steps": 1, "depletion": 2.0, "cost": 0.05,
            "charge_mode": mode, "charge_rate": 2.0 if elec else 0.0, "current_re": cur.real if elec else 0.0,
            "current_im": cur.imag if elec else 0.0, "charge_bus": "origin" if rng.random() < 0.7 else "destination",
        })

    # commute windows: long enough for the longest shortest path in either direction (one-way roads)
    ids = [cid[c] for c in cells]
    bix: dict[str, int] = {b: i for i, b in enumerate(ids)}
    o = [bix[str(r["a"])] for r in roads] + [bix[str(r["b"])] for r in roads if r["two_way"]]
    dd = [bix[str(r["b"])] for r in roads] + [bix[str(r["a"])] for r in roads if r["two_way"]]
    g = sparse.csr_matrix((np.ones(len(o)), (o, dd)), shape=(len(ids), len(ids)))
    dist = csgraph.shortest_path(g, unweighted=True)
    hi = [bix[cid[c]] for c in homes]
    wi = [bix[cid[c]] for c in work]
    span = max(dist[np.ix_(hi, wi)].max(), dist[np.ix_(wi, hi)].max())
    if not np.isfinite(span):
        raise ValueError("some workplace is unreachable (one-way roads)")
    travel = int(span) + 1
    if K < 2 * travel + 4:
        raise ValueError(f"K = {K} too short for commutes of {travel} steps on a {nx}x{ny} grid")

    # radial grid: plant -> root cell, BFS tree over grid edges, oriented away from the plant
    root = work[0]
    adj: dict[tuple[int, int], list[tuple[int, int]]] = {c: [] for c in cells}
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    parent: dict[tuple[int, int], tuple[int, int] | None] = {root: None}
    q = deque([root])
    tree: list[tuple[tuple[int, int], tuple[int, int]]] = []
    while q:
        cur_cell = q.popleft()
        for nxt in adj[cur_cell]:
            if nxt not in parent:
                parent[nxt] = cur_cell
                tree.append((cur_cell, nxt))
                q.append(nxt)
    lines = [{"id": "L0", "from": "plant", "to": cid[root], "g": 0.0, "b": -1000.0}]
    for i, (a, b) in enumerate(tree, start=1):
        lines.append({"id": f"L{i}", "from": cid[a], "to": cid[b], "g": float(rng.uniform(20, 150)),
                      "b": float(-rng.uniform(5, 60))})
    tree_set = {frozenset(e) for e in tree}
    loops = [e for e in edges if frozenset(e) not in tree_set]
    for j, idx in enumerate(rng.permutation(len(loops))[:extra_lines]):
        a, b = loops[idx]
        lines.append({"id": f"LX{j}", "from": cid[a], "to": cid[b], "g": 50.0, "b": -20.0})
    one_way = extra_lines == 0
    for ln in lines:
        ln.update({"b_shunt": 0.0, "tap": 1.0, "i_max": math.nan, "one_way": one_way})

    generators = [{"id": "G1", "bus": "plant", "cost_a": 0.01, "cost_b": 0.1, "cost_c": 0.0, "ir_min": 0.0,
                   "ir_max": 50.0, "ii_min": -50.0, "ii_max": 50.0}]
    pv = [{"id": f"PV_{cid[c]}", "bus": cid[c], "profile": "solar", "i_max": 0.1, "pf": 0.9,
           "price_report": 0.146} for c in homes]
    loads = [{"id": f"D_{cid[c]}", "bus": cid[c],
              "g_profile": "house" if c in boundary else ("office" if c in work else "inters"),
              "pf": 0.9, "alpha_p": 0.0, "beta_p": 0.5, "alpha_q": 0.0, "beta_q": 0.0, "gamma": 0.0} for c in cells]

    home_of = rng.integers(0, len(homes), size=n_ev)
    work_of = rng.integers(0, len(work), size=n_ev)
    ev_ids = [f"EV{i + 1}" for i in range(n_ev)]
    evs = pd.DataFrame({"id": ev_ids, "home": [cid[homes[h]] for h in home_of], "battery": 18.0,
                        "soc_init": 18.0, "soc_final": 18.0})
    n_home = np.bincount(home_of, minlength=len(homes))
    parking = [{"id": f"P_{cid[c]}", "buffer": cid[c], "capacity": int(max(1, n_home[i])), "eligible": "home"}
               for i, c in enumerate(homes)]
    parking += [{"id": f"P_{cid[c]}", "buffer": cid[c], "capacity": n_ev, "eligible": "all"} for c in work]
    h, cc = 0.04 * U, 0.08 * U
    chargers = [{"id": f"H_{cid[c]}", "buffer": cid[c], "type": "home", "rate": 1.0, "current_re": h.real,
                 "current_im": h.imag, "plugs": 0, "eligible": "home", "revenue_per_unit": 0.025}
                for i, c in enumerate(homes) if n_home[i] > 0]
    chargers += [{"id": f"C_{cid[c]}", "buffer": cid[c], "type": "commercial", "rate": 2.0, "current_re": cc.real,
                  "current_im": cc.imag, "plugs": max(1, n_ev // 3), "eligible": "all", "revenue_per_unit": 0.025}
                 for c in work]
    if v2g:
        chargers += [{"id": f"V_{cid[c]}", "buffer": cid[c], "type": "v2g", "rate": 1.0, "current_re": h.real,
                      "current_im": h.imag, "plugs": 2, "eligible": "all", "revenue_per_unit": 0.04} for c in work]

    # itinerary: home (k=0) | travel | work | travel | home ; windows long enough for any path
    k1 = 1
    k_work = k1 + travel
    k_leave = K - travel - 2
    rows = []
    ev_arr = np.repeat(np.array(ev_ids, dtype=object), 5)
    home_arr = np.repeat(evs["home"].to_numpy(dtype=object), 5)
    work_arr = np.repeat(np.array([cid[work[w]] for w in work_of], dtype=object), 5)
    seq = np.tile(np.arange(1, 6), n_ev)
    kf = np.tile([0, k1, k_work, k_leave, k_leave + travel], n_ev)
    kt = np.tile([0, k_work - 1, k_leave - 1, k_leave + travel - 1, K - 1], n_ev)
    act = np.tile(np.array(["stay", "travel", "stay", "travel", "stay"], dtype=object), n_ev)
    wpos = np.tile(np.arange(5), n_ev)
    buf = np.where(np.isin(wpos, [1, 2]), work_arr, home_arr)
    chg = wpos != 0
    rows = pd.DataFrame({"ev": ev_arr, "seq": seq, "k_from": kf, "k_to": kt, "activity": act, "buffer": buf,
                         "charge": chg})

    k = np.arange(K)
    s = np.clip(np.minimum((k - 2) / (K * 0.4), (K - 3 - k) / (K * 0.25)), 0.0, 1.0)
    profiles = pd.DataFrame({"k": k, "solar": s, "house": 0.02 + 0.09 * s, "office": 0.05 + 0.1 * s,
                             "inters": np.full(K, 0.013)})
    return Case.build(
        {"name": name or f"grid-city-{nx}x{ny}-{n_ev}ev-s{seed}", "K": K,
         "description": "Synthetic grid city (tenflow.cases.generate.grid_city)."},
        buffers=pd.DataFrame(buffers), roads=pd.DataFrame(roads), parking=pd.DataFrame(parking),
        chargers=pd.DataFrame(chargers), lines=pd.DataFrame(lines), generators=pd.DataFrame(generators),
        variable_generators=pd.DataFrame(pv), loads=pd.DataFrame(loads), evs=evs, itineraries=rows,
        profiles=profiles,
    )
