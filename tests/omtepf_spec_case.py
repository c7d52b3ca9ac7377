"""Symmetrica-lite built directly from the numbers printed in omtepf.md §2, §4.2–4.5 (independent of the
built-in case files), plus small variants used by the OMTEPF optimisation tests.

Used as a fallback when ``tenflow.cases.load("symmetrica-lite")`` is not available, and to cross-check it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from tenflow.case import Case

ROADS = [  # (road, A, B) of omtepf.md §4.2
    (1, 1, 2), (2, 2, 3), (3, 3, 4), (4, 4, 5), (5, 16, 19), (6, 19, 20), (7, 20, 21), (8, 21, 6), (9, 15, 26),
    (10, 26, 17), (11, 17, 22), (12, 22, 7), (13, 14, 25), (14, 25, 24), (15, 24, 23), (16, 23, 8), (17, 13, 12),
    (18, 12, 11), (19, 11, 10), (20, 10, 9), (21, 1, 16), (22, 16, 15), (23, 15, 14), (24, 14, 13), (25, 2, 19),
    (26, 19, 26), (27, 26, 25), (28, 25, 12), (29, 3, 20), (30, 20, 17), (31, 17, 24), (32, 24, 11), (33, 4, 21),
    (34, 21, 22), (35, 22, 23), (36, 23, 10), (37, 5, 6), (38, 6, 7), (39, 7, 8), (40, 8, 9),
]
ELECTRIFIED = {10, 11, 30, 31}
LINES = [  # (line, from, to, g, b) of omtepf.md §4.3
    (1, 25, 12, 46.5, -15.8), (2, 2, 19, 40.8, -13.8), (3, 25, 14, 60.1, -5.9), (4, 1, 16, 64.7, -6.3),
    (5, 4, 5, 65.9, -6.6), (6, 5, 6, 58.2, -19.7), (7, 6, 7, 41.5, -14.1), (8, 4, 21, 28.2, -26.3),
    (9, 26, 25, 129.5, -43.7), (10, 17, 26, 72.8, -24.6), (11, 17, 24, 50.6, -17.1), (12, 17, 22, 72.8, -24.6),
    (13, 23, 10, 55.4, -18.8), (14, 22, 23, 116.4, -39.4), (15, 3, 2, 60.2, -56.2), (16, 18, 3, 0.0, -1111.1),
    (17, 10, 9, 5.6, -0.2), (18, 20, 17, 182.0, -62.2), (19, 3, 20, 145.8, -136.3), (20, 16, 15, 48.5, -16.4),
    (21, 3, 4, 60.2, -56.2), (22, 23, 8, 46.5, -15.8), (23, 14, 13, 4.1, -14.1), (24, 24, 11, 46.5, -15.8),
    (25, 2, 1, 56.4, -52.6),
]
U = complex(0.9, -math.sqrt(1 - 0.81))


def sigma(K: int = 57) -> np.ndarray:
    k = np.arange(K, dtype=float)
    s = np.where(k <= 2, 0.0, np.where(k <= 24, (k - 2) / 22, np.where(k <= 40, 1.0, (54 - k) / 14)))
    return np.where(k >= 54, 0.0, s)


def spec_tables(n_ev_per_home: int = 2) -> dict[str, Any]:
    """Tables of symmetrica-lite as plain DataFrames (schema of :mod:`tenflow.case.tables`)."""
    K = 57
    buffers = pd.DataFrame({
        "id": [str(i) for i in range(1, 27)],
        "kind": ["neighbourhood"] * 16 + ["commercial", "plant"] + ["intersection"] * 8,
        "is_bus": [True] * 26,
    })
    roads = pd.DataFrame({
        "id": [f"R{i}" for i, _, _ in ROADS],
        "a": [str(a) for _, a, _ in ROADS],
        "b": [str(b) for _, _, b in ROADS],
        "capacity": [4 if (a == 17 or b == 17) else 3 for _, a, b in ROADS],
        "charge_mode": ["inductive" if i in ELECTRIFIED else "none" for i, _, _ in ROADS],
        "charge_rate": [2.0 if i in ELECTRIFIED else 0.0 for i, _, _ in ROADS],
        "current_re": [0.08 * U.real if i in ELECTRIFIED else 0.0 for i, _, _ in ROADS],
        "current_im": [0.08 * U.imag if i in ELECTRIFIED else 0.0 for i, _, _ in ROADS],
    })
    parking = pd.DataFrame({
        "id": [f"P{b}" for b in range(1, 18)],
        "buffer": [str(b) for b in range(1, 18)],
        "capacity": [n_ev_per_home] * 16 + [16 * n_ev_per_home],
        "eligible": ["home"] * 16 + ["all"],
    })
    chargers = pd.DataFrame({
        "id": [f"H{b}" for b in range(1, 17)] + ["C17"],
        "buffer": [str(b) for b in range(1, 18)],
        "type": ["home"] * 16 + ["commercial"],
        "rate": [1.0] * 16 + [2.0],
        "current_re": [0.04 * U.real] * 16 + [0.08 * U.real],
        "current_im": [0.04 * U.imag] * 16 + [0.08 * U.imag],
        "plugs": [0] * 16 + [10],
        "eligible": ["home"] * 16 + ["all"],
    })
    lines = pd.DataFrame({
        "id": [f"L{i}" for i, *_ in LINES], "from": [str(f) for _, f, *_ in LINES],
        "to": [str(t) for _, _, t, *_ in LINES], "g": [g for *_, g, _ in LINES], "b": [b for *_, b in LINES],
    })
    generators = pd.DataFrame({"id": ["G18"], "bus": ["18"], "cost_a": [0.01], "cost_b": [0.1]})
    variable_generators = pd.DataFrame({
        "id": [f"PV{b}" for b in range(1, 18)], "bus": [str(b) for b in range(1, 18)],
        "profile": ["solar"] * 17, "i_max": [0.12] * 17,
    })
    load_bus = list(range(1, 18)) + list(range(19, 27))
    loads = pd.DataFrame({
        "id": [f"D{b}" for b in load_bus], "bus": [str(b) for b in load_bus],
        "g_profile": ["house"] * 16 + ["office"] + ["inters"] * 8, "beta_p": [0.5] * 25,
    })
    k = np.arange(K)
    s = sigma(K)
    profiles = pd.DataFrame({
        "k": k, "solar": s,
        "house": 0.017 + 0.095 * s + 0.017 * (k <= 11) + 0.026 * (k >= 44),
        "office": 0.043 + 0.170 * ((k >= 8) & (k <= 47)),
        "inters": np.full(K, 0.013),
    })
    n_ev = 16 * n_ev_per_home
    evs = pd.DataFrame({"id": [str(v) for v in range(1, n_ev + 1)],
                        "home": [str((v - 1) // n_ev_per_home + 1) for v in range(1, n_ev + 1)]})
    rows = []
    for v in range(1, n_ev + 1):
        h = str((v - 1) // n_ev_per_home + 1)
        rows += [
            (str(v), 0, 0, 0, "stay", h, True),
            (str(v), 1, 1, 7, "travel", "17", True),
            (str(v), 2, 8, 39, "stay", "17", True),
            (str(v), 3, 40, 47, "travel", h, True),
            (str(v), 4, 48, 56, "stay", h, True),
        ]
    itineraries = pd.DataFrame(rows, columns=["ev", "seq", "k_from", "k_to", "activity", "buffer", "charge"])
    return dict(buffers=buffers, roads=roads, parking=parking, chargers=chargers, lines=lines,
                generators=generators, variable_generators=variable_generators, loads=loads, evs=evs,
                itineraries=itineraries, profiles=profiles)


def spec_case(n_ev_per_home: int = 2, validate: bool = True, options: dict | None = None, **overrides: Any) -> Case:
    """Symmetrica-lite (omtepf.md §4) built in memory with :meth:`Case.build`."""
    t = spec_tables(n_ev_per_home)
    t.update(overrides)
    return Case.build({"name": "symmetrica-lite-spec", "K": 57}, options or {}, {}, validate=validate, **t)


def load_symmetrica() -> Case:
    """The built-in case when available, else the spec-built one."""
    try:
        from tenflow.cases import load  # type: ignore[attr-defined]

        return load("symmetrica-lite")  # type: ignore[no-any-return]
    except Exception:
        return spec_case()


def v2g_tiny_case(price: float, *, n_ev: int = 2, flat: bool = True) -> Case:
    """A tiny home–work case with a home charger and a v2g charger at home (omtepf.md §3.4 general model).

    Buses A (homes), W (work), G (plant, generator, reference); lines G→A→W; one road A–W. EVs: battery 10,
    start/end full; stay at A (k=0), travel to W (k=1), stay at W (k=2..3), travel home (k=4), stay at A
    (k=5..11) with charging allowed. Loads are flat (``flat``) so shifting energy in time has no value for the
    convex generator cost: discharging pays only through the v2g price.
    """
    K = 12
    u = U
    buffers = pd.DataFrame({"id": ["A", "W", "G"], "kind": ["neighbourhood", "commercial", "plant"],
                            "is_bus": [True, True, True]})
    roads = pd.DataFrame({"id": ["r"], "a": ["A"], "b": ["W"], "capacity": [n_ev]})
    parking = pd.DataFrame({"id": ["PA", "PW"], "buffer": ["A", "W"], "capacity": [n_ev, n_ev]})
    chargers = pd.DataFrame({
        "id": ["H", "V"], "buffer": ["A", "A"], "type": ["home", "v2g"], "rate": [1.0, 1.0],
        "current_re": [0.04 * u.real, 0.04 * u.real], "current_im": [0.04 * u.imag, 0.04 * u.imag],
        "plugs": [0, 0], "revenue_per_unit": [0.025, price],
    })
    lines = pd.DataFrame({"id": ["L1", "L2"], "from": ["G", "A"], "to": ["A", "W"], "g": [40.0, 40.0],
                          "b": [-15.0, -15.0]})
    generators = pd.DataFrame({"id": ["G1"], "bus": ["G"], "cost_a": [0.01], "cost_b": [0.1]})
    k = np.arange(K)
    load = np.full(K, 0.3) if flat else 0.2 + 0.3 * (k >= 6)
    loads = pd.DataFrame({"id": ["DA", "DW"], "bus": ["A", "W"], "g_profile": ["load", "load"],
                          "beta_p": [0.5, 0.5]})
    profiles = pd.DataFrame({"k": k, "load": load})
    evs = pd.DataFrame({"id": [f"e{i}" for i in range(n_ev)], "home": ["A"] * n_ev, "battery": [10.0] * n_ev,
                        "soc_init": [10.0] * n_ev, "soc_final": [10.0] * n_ev})
    rows = []
    for i in range(n_ev):
        e = f"e{i}"
        rows += [(e, 0, 0, 0, "stay", "A", True), (e, 1, 1, 1, "travel", "W", False),
                 (e, 2, 2, 3, "stay", "W", False), (e, 3, 4, 4, "travel", "A", False),
                 (e, 4, 5, 11, "stay", "A", True)]
    it = pd.DataFrame(rows, columns=["ev", "seq", "k_from", "k_to", "activity", "buffer", "charge"])
    return Case.build({"name": f"v2g-tiny-{price}", "K": K}, {}, {}, buffers=buffers, roads=roads, parking=parking,
                      chargers=chargers, lines=lines, generators=generators, loads=loads, profiles=profiles,
                      evs=evs, itineraries=it)
