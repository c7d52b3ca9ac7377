"""Generate the built-in case ``symmetrica-lite`` (omtepf.md §4) in tenflow's case format.

Run ``python -m tenflow.cases.make_symmetrica_lite [OUT]`` to (re)write the shipped files
(default: ``src/tenflow/cases/data/symmetrica-lite``). A test regenerates the case and compares it with
the shipped files, so the two can never drift apart.

Sources (all omtepf.md): buffers and roads §4.2 (5×5 grid, spokes R10, R11, R30, R31 electrified with
inductive charging, rate 2, current 0.08·u drawn at the origin bus, capacity 4 vs 3), lines §4.3 (25 radial
lines away from bus 18, exact G/B), generator §2.3 (a = 0.01, b = 0.1, c = 0, I^r ∈ [0, 5], I^i ∈ [−5, 5]),
profiles and PV §4.5, EVs and itineraries §4.4/§3.5 (home ⌈v/2⌉, work 17), chargers §2.1/§2.2, costs §2.1.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from tenflow.case.model import Case

NAME = "symmetrica-lite"
K = 57
#: per-firing current phasor, pf 0.9 lagging (omtepf.md §2.2)
U = complex(0.9, -math.sqrt(1.0 - 0.9**2))

# §4.2: node -> (kind, x, y)
_COORD = {
    1: (0, 4), 2: (1, 4), 3: (2, 4), 4: (3, 4), 5: (4, 4), 6: (4, 3), 7: (4, 2), 8: (4, 1), 9: (4, 0),
    10: (3, 0), 11: (2, 0), 12: (1, 0), 13: (0, 0), 14: (0, 1), 15: (0, 2), 16: (0, 3), 17: (2, 2),
    19: (1, 3), 20: (2, 3), 21: (3, 3), 22: (3, 2), 23: (3, 1), 24: (2, 1), 25: (1, 1), 26: (1, 2),
}
_INTERSECTION_NAMES = {19: "NW inner", 20: "N hub", 21: "NE inner", 22: "E hub", 23: "SE inner", 24: "S hub",
                       25: "SW inner", 26: "W hub"}

# §4.2 road table: Ri = (A, B)
ROADS = {
    1: (1, 2), 2: (2, 3), 3: (3, 4), 4: (4, 5), 5: (16, 19), 6: (19, 20), 7: (20, 21), 8: (21, 6), 9: (15, 26),
    10: (26, 17), 11: (17, 22), 12: (22, 7), 13: (14, 25), 14: (25, 24), 15: (24, 23), 16: (23, 8), 17: (13, 12),
    18: (12, 11), 19: (11, 10), 20: (10, 9), 21: (1, 16), 22: (16, 15), 23: (15, 14), 24: (14, 13), 25: (2, 19),
    26: (19, 26), 27: (26, 25), 28: (25, 12), 29: (3, 20), 30: (20, 17), 31: (17, 24), 32: (24, 11), 33: (4, 21),
    34: (21, 22), 35: (22, 23), 36: (23, 10), 37: (5, 6), 38: (6, 7), 39: (7, 8), 40: (8, 9),
}
SPOKES = (10, 11, 30, 31)

# §4.3: Li = (from, to, g, b)
LINES = {
    1: (25, 12, 46.5, -15.8), 2: (2, 19, 40.8, -13.8), 3: (25, 14, 60.1, -5.9), 4: (1, 16, 64.7, -6.3),
    5: (4, 5, 65.9, -6.6), 6: (5, 6, 58.2, -19.7), 7: (6, 7, 41.5, -14.1), 8: (4, 21, 28.2, -26.3),
    9: (26, 25, 129.5, -43.7), 10: (17, 26, 72.8, -24.6), 11: (17, 24, 50.6, -17.1), 12: (17, 22, 72.8, -24.6),
    13: (23, 10, 55.4, -18.8), 14: (22, 23, 116.4, -39.4), 15: (3, 2, 60.2, -56.2), 16: (18, 3, 0.0, -1111.1),
    17: (10, 9, 5.6, -0.2), 18: (20, 17, 182.0, -62.2), 19: (3, 20, 145.8, -136.3), 20: (16, 15, 48.5, -16.4),
    21: (3, 4, 60.2, -56.2), 22: (23, 8, 46.5, -15.8), 23: (14, 13, 4.1, -14.1), 24: (24, 11, 46.5, -15.8),
    25: (2, 1, 56.4, -52.6),
}


def solar_shape(k: np.ndarray) -> np.ndarray:
    """Trapezoid σ(k) of omtepf.md §4.5 (sunrise 06:30, peak 12:00–16:00, sunset 19:30); Σσ = 34."""
    k = np.asarray(k, dtype=float)
    return np.select(
        [(k <= 2) | (k >= 54), k <= 24, k <= 40],
        [0.0, (k - 2) / 22.0, 1.0],
        default=(54 - k) / 14.0,
    )


def profiles() -> pd.DataFrame:
    """Profiles of omtepf.md §4.5: solar shape, house / office / intersection conductances."""
    k = np.arange(K)
    s = solar_shape(k)
    return pd.DataFrame({
        "k": k.astype("int64"),
        "solar": s,
        "house": 0.017 + 0.095 * s + 0.017 * (k <= 11) + 0.026 * (k >= 44),
        "office": 0.043 + 0.170 * ((k >= 8) & (k <= 47)),
        "inters": np.full(K, 0.013),
    })


def build() -> Case:
    """Build the symmetrica-lite :class:`Case` in memory (validated)."""
    buffers = []
    for n in range(1, 27):
        if n <= 16:
            kind, name = "neighbourhood", f"Neighbourhood {n}"
        elif n == 17:
            kind, name = "commercial", "Commercial centre"
        elif n == 18:
            kind, name = "plant", "Power plant"
        else:
            kind, name = "intersection", f"Intersection {n} ({_INTERSECTION_NAMES[n]})"
        x, y = _COORD.get(n, (math.nan, math.nan))
        buffers.append({"id": str(n), "name": name, "kind": kind, "x": float(x), "y": float(y), "is_bus": True})

    w = 0.08 * U
    roads = []
    for i, (a, b) in ROADS.items():
        spoke = i in SPOKES
        roads.append({
            "id": f"R{i}", "a": str(a), "b": str(b), "two_way": True, "capacity": 4 if spoke else 3,
            "travel_steps": 1, "depletion": 2.0, "cost": 0.05,
            "charge_mode": "inductive" if spoke else "none", "charge_rate": 2.0 if spoke else 0.0,
            "current_re": w.real if spoke else 0.0, "current_im": w.imag if spoke else 0.0, "charge_bus": "origin",
        })

    parking = [{"id": f"P{b}", "buffer": str(b), "capacity": 2, "eligible": "home"} for b in range(1, 17)]
    parking.append({"id": "P17", "buffer": "17", "capacity": 32, "eligible": "all"})

    h, c = 0.04 * U, 0.08 * U
    chargers = [{"id": f"H{b}", "buffer": str(b), "type": "home", "rate": 1.0, "current_re": h.real,
                 "current_im": h.imag, "plugs": 0, "eligible": "home", "revenue_per_unit": 0.025}
                for b in range(1, 17)]
    chargers.append({"id": "C17", "buffer": "17", "type": "commercial", "rate": 2.0, "current_re": c.real,
                     "current_im": c.imag, "plugs": 10, "eligible": "all", "revenue_per_unit": 0.025})

    lines = [{"id": f"L{i}", "from": str(f), "to": str(t), "g": g, "b": b, "b_shunt": 0.0, "tap": 1.0,
              "i_max": math.nan, "one_way": True} for i, (f, t, g, b) in LINES.items()]
    generators = [{"id": "G1", "bus": "18", "cost_a": 0.01, "cost_b": 0.1, "cost_c": 0.0, "ir_min": 0.0,
                   "ir_max": 5.0, "ii_min": -5.0, "ii_max": 5.0}]
    pv = [{"id": f"PV{b}", "bus": str(b), "profile": "solar", "i_max": 0.12, "pf": 0.9, "price_report": 0.146}
          for b in range(1, 18)]
    loads = []
    for b in [*range(1, 18), *range(19, 27)]:
        prof = "house" if b <= 16 else ("office" if b == 17 else "inters")
        loads.append({"id": f"D{b}", "bus": str(b), "g_profile": prof, "pf": 0.9, "alpha_p": 0.0, "beta_p": 0.5,
                      "alpha_q": 0.0, "beta_q": 0.0, "gamma": 0.0})

    evs = [{"id": str(v), "home": str(math.ceil(v / 2)), "battery": 18.0, "soc_init": 18.0, "soc_final": 18.0}
           for v in range(1, 33)]
    itin = []
    for v in range(1, 33):
        home = str(math.ceil(v / 2))
        for seq, (kf, kt, act, buf, chg) in enumerate([
            (0, 0, "stay", home, False),       # k = 0: parked at home (fixed initial step)
            (1, 7, "travel", "17", True),      # morning commute; park/charge at 17 after arrival
            (8, 39, "stay", "17", True),       # at work 08:00-16:00: parked or charging
            (40, 47, "travel", home, True),    # evening commute; park/charge at own home after arrival
            (48, 56, "stay", home, True),      # at home 18:00-20:15
        ], start=1):
            itin.append({"ev": str(v), "seq": seq, "k_from": kf, "k_to": kt, "activity": act, "buffer": buf,
                         "charge": chg})

    return Case.build(
        meta={"name": NAME, "description": "Reconstructed 26-buffer, 32-EV Symmetrica-lite test case "
                                           "(OMTEPF paper, omtepf.md section 4).",
              "start_time": "06:00", "step_minutes": 15, "K": K, "s_base_mva": 1.0, "v_base_kv": 1.0},
        options={"wireless_net_soc": 0, "revenue_mode": "ccp", "secant_theta_deg": 0.0, "one_way_lines": True,
                 "v_min": 0.9, "v_max": 1.1},
        costs={"c_T": 0.05, "c_Q": 0.05, "c_C": 0.025, "lambda_S": 0.146},
        buffers=pd.DataFrame(buffers), roads=pd.DataFrame(roads), parking=pd.DataFrame(parking),
        chargers=pd.DataFrame(chargers), lines=pd.DataFrame(lines), generators=pd.DataFrame(generators),
        variable_generators=pd.DataFrame(pv), loads=pd.DataFrame(loads), evs=pd.DataFrame(evs),
        itineraries=pd.DataFrame(itin), profiles=profiles(),
    )


def default_out() -> Path:
    return Path(__file__).resolve().parent / "data" / NAME


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else default_out()
    build().save(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
