"""Tests of the Co-OPT MESS prototype replay (mess.md Appendix B, ``tenflow.mess.prototype_replay``).

Independent checks:

* single-leg values (τ, E, c_op) against the spec's test values (§3.2, §3.3);
* the first trip of the mess-small day (vehicle 1 → site 2 at 14:00, a CO route through charger 1) recomputed
  here from the Appendix B formulas with the §2.5 arc list and the Appendix A price table typed in from the spec —
  no tenflow code is used for the expected values;
* the site SoC at the first dispatch against the §3.4 demand test value D(14:15) = 309 kWh;
* printed output of the prototype itself (public notebooks of the Co-OPT MESS repository, runs with the prototype's
  unseeded DA draw and energy noise): the DA series of a run is recovered from its printed LMP table (bus 11 has
  mult = loss = 1, so DA = λ₁₁ − 1 − tariff − ΔRT·include_rt) and the replay with that series must reproduce every
  printed per-vehicle value within the prototype's own noise (ε ~ N(0, 0.01) kWh per energy evaluation).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from tenflow.errors import CaseError
from tenflow.mess.case import load_mess_case
from tenflow.mess.prototype_replay import MODELS, TOTAL_COLUMNS, VEHICLE_COLUMNS, ReplayResult, replay

MODEL_NAMES = ("m1", "m2", "m3", "nmc-hist")
SCALES = ("mess-small", "mess-large")


@pytest.fixture(scope="module")
def cases() -> dict[str, object]:
    return {n: load_mess_case(n) for n in SCALES}


@pytest.fixture(scope="module")
def runs(cases: dict[str, object]) -> dict[tuple[str, str], ReplayResult]:
    return {(c, m): replay(cases[c], m) for c in SCALES for m in MODEL_NAMES}  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------------------
# independent re-computation of the formulas (mess.md §2.5, §3.2, §3.3, §4.5, Appendix A/B) — no tenflow code
# ------------------------------------------------------------------------------------------------------------
SMALL_ARCS = {  # §2.5: from→to km/grade%
    (0, 1): (40, 0), (0, 2): (40, 7), (0, 3): (50, 0), (0, 4): (60, 7), (0, 5): (55, 10), (0, 6): (40, 5),
    (1, 0): (40, 0), (1, 2): (5, 8), (1, 6): (10, 0), (2, 0): (40, -7), (2, 1): (5, -8), (3, 0): (50, 0),
    (3, 4): (15, -8), (3, 5): (5, 4), (4, 0): (60, -7), (4, 3): (15, 8), (5, 0): (55, -10), (5, 3): (5, -4),
    (6, 0): (40, -5), (6, 1): (10, 0),
}
# Appendix A, bus 6: hour -> (tariff, mult_6, loss_6, ΔRT)
APPX_A_BUS6 = {
    14: (8, 1.023041, 0.999610, 0.011811), 15: (8, 1.023399, 0.999612, 0.011893),
    16: (8, 1.024482, 0.999616, 0.012167), 17: (15, 1.026132, 0.999626, 0.012685),
    18: (15, 1.027443, 0.999636, 0.013249), 19: (15, 1.027631, 0.999638, 0.013349),
}
TRUCK_S = {"v": 50.0, "e": 1.0, "w": 18.0, "m": 50000.0, "a": 1.2, "q": 350.0}
FACTORS = {"Morning Peak": (0.75, 0.85, 1.0), "Evening Peak": (0.5, 0.55, 0.9)}


def _km_grade(a: int, b: int) -> tuple[float, float]:
    if a == b:
        return 0.0, 0.0
    d, g = SMALL_ARCS.get((a, b), (1e6, 0.0))
    return float(d), float(g)


def _tau(d: float, t: float) -> float:
    f1, f2, f3 = FACTORS["Morning Peak" if 7 <= t < 12 else "Evening Peak"]
    z1 = min(2.0, d)
    r = max(0.0, d - 2.0) / 2.0
    return z1 / (TRUCK_S["v"] * f1) + r / (TRUCK_S["v"] * f2) + r / (TRUCK_S["v"] * f3)


def _energy(d: float, g: float, phi: float = 1.0) -> float:
    return phi * TRUCK_S["e"] * d + TRUCK_S["a"] + TRUCK_S["m"] * 9.8 * math.sin(g / 100.0) / 3600.0 * d


def _soc(s: float, a: int, b: int) -> float:
    d, g = _km_grade(a, b)
    return min(100.0, max(0.0, s - 100.0 * _energy(d, g) / TRUCK_S["q"]))


def _c_op(d: float, t: float) -> float:
    return d * (0.20 * TRUCK_S["e"] + 0.20 + 0.21) + TRUCK_S["w"] * t


def _n_cycles(depth: float) -> float:
    return 4901.0 * depth ** -1.98 * math.exp(0.016 * (1.0 - depth))


def _deg_m3(s_f: float) -> float:
    if s_f >= 85.0:
        return 0.0
    raw = 60000.0 / _n_cycles(1.0 - s_f / 100.0) - 60000.0 / _n_cycles(0.15)
    return min(max(raw, 0.0), 1000.0)


def _price6(t: float) -> float:
    tariff, mult, loss, rt = APPX_A_BUS6[int(t) % 24]
    return (27.0 * mult + loss + tariff + rt) / 100.0


def _charger_leg(a: int, c: int, b: int, t: float, s: float) -> dict[str, float]:
    d1, _ = _km_grade(a, c)
    t1 = _tau(d1, t)
    s1 = _soc(s, a, c)
    t_ch = (90.0 - s1) / 100.0 * TRUCK_S["q"] / 500.0
    ch_cost = (90.0 - s1) / 100.0 * TRUCK_S["q"] * (_price6(t + t_ch) if c == 1 else float("nan"))
    d2, _ = _km_grade(c, b)
    t2 = _tau(d2, t + t1 + t_ch)
    s2 = _soc(90.0, c, b)
    deg = _deg_m3(s1) + _deg_m3(s2)
    return {"cost": _c_op(d1, t1) + _c_op(d2, t2) + deg, "km": d1 + d2, "elapsed": t1 + t_ch + t2, "soc": s2,
            "t_ch": t_ch, "ch_cost": ch_cost, "deg": deg, "c": c}


def _path(a: int, b: int, t: float, s: float, force: bool) -> dict[str, float]:
    best = None
    if not force:
        d, _ = _km_grade(a, b)
        tt = _tau(d, t)
        s2 = _soc(s, a, b)
        best = {"cost": _c_op(d, tt) + _deg_m3(s2), "km": d, "elapsed": tt, "soc": s2, "t_ch": 0.0, "ch_cost": 0.0,
                "c": -1}
    ind = None
    for c in (1, 3):
        cand = _charger_leg(a, c, b, t, s)
        if ind is None or cand["cost"] < ind["cost"]:
            ind = cand
    assert ind is not None
    return ind if best is None or ind["cost"] < best["cost"] else best


def _old_mess(start: int, t: float) -> dict[str, float]:
    best = None
    for c in (1, 3):
        cand = _charger_leg(start, c, 0, t, 20.0)
        if best is None or cand["cost"] < best["cost"]:
            best = cand
    assert best is not None
    return best


def test_leg_functions_spec_values(cases: dict[str, object]) -> None:
    """§3.3 prototype τ and §3.2 prototype E (incl. a_k) as written in the spec, and the test's own formulas."""
    from tenflow.mess.prototype_replay import _Replay, _vehicles

    case = cases["mess-small"]
    sim = _Replay(case, phi=1.0, preset="proto-m3-gen", uses_a=False, buses={1: "6", 3: "10"},  # type: ignore[arg-type]
                  price_cents={}, noise_seed=None)
    v1 = _vehicles(case)[0]  # type: ignore[arg-type]
    assert v1.id == 1 and v1.type == "S"
    assert sim.tau(40.0, v1, 14.0) == pytest.approx(1.193131, abs=1e-6)
    assert sim.tau(40.0, v1, 9.0) == pytest.approx(0.880392, abs=1e-6)
    assert sim.tau(5.0, v1, 14.0) == pytest.approx(0.167879, abs=1e-6)
    assert sim.tau(40.0, v1, 11.5) == pytest.approx(0.880392, abs=1e-6)  # segment from the start only
    assert sim.tau(0.0, v1, 14.0) == 0.0
    assert sim.energy(40.0, 7.0, v1) == pytest.approx(421.999947, abs=1e-6)
    assert sim.energy(40.0, 0.0, v1) == pytest.approx(41.2, abs=1e-9)
    assert sim.energy(5.0, 8.0, v1) == pytest.approx(60.586389, abs=1e-6)
    assert sim.energy(0.0, 0.0, v1) == pytest.approx(1.2, abs=1e-12)  # a_k on a 0-km leg
    assert _tau(40.0, 14.0) == pytest.approx(1.193131, abs=1e-6)
    assert _energy(40.0, 7.0) == pytest.approx(421.999947, abs=1e-6)
    assert _energy(40.0, 0.0, phi=0.1) == pytest.approx(5.2, abs=1e-12)
    # missing road: 10⁶ km, evaluated
    assert sim.d(1, 3) == 1e6 and sim.d(2, 2) == 0.0
    assert sim.c_op(10.0, 2.0, v1) == pytest.approx(10 * 0.61 + 36.0)
    assert sim.soc_after(20.0, 1, 3, v1) == 0.0


def test_first_trip_hand_computed(runs: dict[tuple[str, str], ReplayResult]) -> None:
    """Vehicle 1 → site 2 at 14:00 on mess-small, m3, DA 27 ¢, ΔRT on: CO route via charger 1 (Appendix B)."""
    T = 14.0
    t, s = T, 90.0
    p1 = _path(0, 2, t, s, False)
    assert p1["c"] == 1  # the charger path wins over the direct 0→2 (which empties the pack)
    deg1 = max(0.0, p1["cost"] - _c_op(p1["km"], p1["elapsed"]))
    t += p1["elapsed"] + 0.5
    s = min(100.0, p1["soc"])
    p2 = _path(2, 0, t, s, True)
    deg2 = max(0.0, p2["cost"] - _c_op(p2["km"], p2["elapsed"]))
    t += p2["elapsed"]
    route = [0, 1, 2, int(p2["c"]), 0]
    om = _old_mess(route[-2], t)
    t += om["elapsed"] + om["t_ch"]  # the prototype adds the old MESS's charging time twice
    co_km = sum(_km_grade(route[i], route[i + 1])[0] for i in range(len(route) - 1))
    exp = {
        "co_route": " -> ".join(map(str, route)),
        "co_km": co_km,
        "co_cost": p1["cost"] + p2["cost"] + om["cost"],
        "co_degradation": deg1 + deg2 + max(0.0, om["deg"]),
        "finish_h": t,
        "operational": _c_op(co_km, t - T),
        "charging_cost": p1["ch_cost"] + p2["ch_cost"] + om["ch_cost"],
        "charging_min": 60.0 * (p1["t_ch"] + p2["t_ch"] + om["t_ch"]),
    }
    got = runs[("mess-small", "m3")]
    tr = got.trips.iloc[0]
    assert int(tr["vehicle"]) == 1 and tr["dispatch_h"] == T and tr["sites"] == "2"
    assert tr["co_route"] == exp["co_route"] == "0 -> 1 -> 2 -> 1 -> 0"
    for k in ("co_km", "co_cost", "co_degradation", "finish_h", "operational", "charging_cost", "charging_min"):
        assert float(tr[k]) == pytest.approx(exp[k], rel=1e-12, abs=1e-9), k
    assert tr["arrival_soc"] == f"2:{s:.6f}"
    assert tr["old_mess_charger"] == 1


def test_first_dispatch_matches_demand_model(runs: dict[tuple[str, str], ReplayResult]) -> None:
    """All sites start full and follow §3.4: D(14:15) = 309 kWh → SoC 11.714286 % at the 14:00 dispatch."""
    ev = runs[("mess-small", "m3")].events
    first = ev[ev["time"] == ev["time"].min()]
    assert first["time"].iloc[0] == 14.0
    assert list(first["site"]) == [2, 4, 5, 6]
    assert np.allclose(first["soc"], 100.0 - 309.0 / 350.0 * 100.0, atol=1e-9)
    assert list(first["vehicle"]) == [1, 2, 3, 4]
    soc = runs[("mess-small", "m3")].site_soc
    before = soc[(soc["time"] == 13.75) & (soc["site"] == 2)]["soc"].iloc[0]
    assert before == pytest.approx(100.0 - 266.5 / 350.0 * 100.0, abs=1e-9)  # D(14:00) = 266.5


# ------------------------------------------------------------------------------------------------------------
# structure, determinism, noise, totals
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case_name", SCALES)
@pytest.mark.parametrize("model", MODEL_NAMES)
def test_all_models_run_and_totals_are_row_sums(runs: dict[tuple[str, str], ReplayResult], case_name: str,
                                                model: str) -> None:
    r = runs[(case_name, model)]
    assert list(r.vehicles.columns) == VEHICLE_COLUMNS and list(r.totals.columns) == TOTAL_COLUMNS
    assert len(r.vehicles) > 0
    v, t = r.vehicles, r.totals_dict()
    num = v[["co_km", "dm_km", "co_cost", "dm_cost", "operational", "co_degradation", "charging_cost"]]
    assert np.isfinite(num.to_numpy()).all()
    assert t["trips"] == len(r.trips) == v["trips"].sum()
    for col, key in (("co_km", "co_km"), ("dm_km", "dm_km"), ("co_cost", "co_cost"), ("dm_cost", "dm_cost"),
                     ("operational", "operational"), ("co_degradation", "degradation"),
                     ("charging_cost", "charging"), ("delivered_kwh", "energy_delivered_kwh")):
        assert t[key] == pytest.approx(float(v[col].sum()), abs=1e-9), key
    assert t["system"] == pytest.approx(t["operational"] + t["degradation"], abs=1e-9)
    assert t["total_incl_charging"] == pytest.approx(t["system"] + t["charging"], abs=1e-9)
    assert t["energy_delivered_kwh"] == pytest.approx(315.0 * t["trips"])
    # every trip leaves and ends at the depot; the CO route visits its site
    for tr in r.trips.itertuples():
        nodes = tr.co_route.split(" -> ")
        assert nodes[0] == "0" and nodes[-1] == "0" and tr.sites in nodes
    # ΔRT default of Appendix B
    preset, phi, rt_small, rt_large, _ = MODELS[model]
    assert r.options["include_rt"] == (rt_large if case_name == "mess-large" else rt_small)
    assert r.options["phi"] == phi and r.options["preset"] == preset


def test_m1_is_m3(runs: dict[tuple[str, str], ReplayResult]) -> None:
    for c in SCALES:
        pd.testing.assert_frame_equal(runs[(c, "m1")].vehicles, runs[(c, "m3")].vehicles)


def test_deterministic(cases: dict[str, object], runs: dict[tuple[str, str], ReplayResult]) -> None:
    again = replay(cases["mess-large"], "m2")  # type: ignore[arg-type]
    ref = runs[("mess-large", "m2")]
    pd.testing.assert_frame_equal(again.vehicles, ref.vehicles)
    pd.testing.assert_frame_equal(again.trips, ref.trips)
    assert again.to_text() == ref.to_text() and again.to_markdown() == ref.to_markdown()


def test_noise_seed_reproducible(cases: dict[str, object], runs: dict[tuple[str, str], ReplayResult]) -> None:
    c = cases["mess-small"]
    a = replay(c, "m3", noise_seed=7)  # type: ignore[arg-type]
    b = replay(c, "m3", noise_seed=7)  # type: ignore[arg-type]
    d = replay(c, "m3", noise_seed=8)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(a.vehicles, b.vehicles)
    det = runs[("mess-small", "m3")]
    assert not a.vehicles["charging_cost"].equals(det.vehicles["charging_cost"])
    assert not a.vehicles["charging_cost"].equals(d.vehicles["charging_cost"])
    # noise of 0.01 kWh per evaluation moves the day by cents, not dollars
    assert abs(a.totals_dict()["total_incl_charging"] - det.totals_dict()["total_incl_charging"]) < 1.0


def test_da_options_and_price_table(cases: dict[str, object]) -> None:
    c = cases["mess-small"]
    r = replay(c, "m3", da_seed=12345)  # type: ignore[arg-type]
    lmp = r.lmp.set_index(["bus", "hour"])["cents"]
    assert set(r.lmp["bus"]) == {"6", "10"}
    # §5.2: seed 12345 → DA(0) = 22.0920; bus 6 hour 0: DA·1.016093 + 0.999592 + 8 + 0.010725
    assert lmp[("6", 0)] == pytest.approx(22.0920 * 1.016093 + 0.999592 + 8 + 0.010725, abs=1e-3)
    s = replay(c, "m3", da_series=[27.0] * 24)  # type: ignore[arg-type]
    base = replay(c, "m3")  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(s.vehicles, base.vehicles)
    # §5.2 test value: DA 27, ΔRT on, hour 8, bus 6 = 43.712374 ¢
    assert base.lmp.set_index(["bus", "hour"])["cents"][("6", 8)] == pytest.approx(43.712374, abs=1e-6)
    off = replay(c, "m3", include_rt=False)  # type: ignore[arg-type]
    assert off.totals_dict()["charging"] < base.totals_dict()["charging"]


def test_bad_input(cases: dict[str, object]) -> None:
    with pytest.raises(CaseError, match="unknown replay model"):
        replay(cases["mess-small"], "m4")  # type: ignore[arg-type]
    with pytest.raises(CaseError, match="24 values"):
        replay(cases["mess-small"], "m3", da_series=[27.0] * 23)  # type: ignore[arg-type]


def test_markdown_and_text(runs: dict[tuple[str, str], ReplayResult]) -> None:
    r = runs[("mess-small", "m3")]
    md = r.to_markdown()
    assert "| 1 | 0 -> 1 -> 2 -> 1 -> 0 | 90.00 | 158.97 | 0 -> 2 -> 0 | 80.00 | 161.07 | 19.51 | 315.00 |" in md
    assert "| system cost incl. charging ($) |" in md
    txt = r.to_text()
    assert "  Cost-optimized Cost: USD 158.97" in txt and "Total Energy Delivered: 2205.00 kWh" in txt
    assert all(re.fullmatch(r"-?\d+\.\d\d", x) for x in re.findall(r"USD (\S+)", txt))


# ------------------------------------------------------------------------------------------------------------
# cross-check against printed output of the prototype
# ------------------------------------------------------------------------------------------------------------
# Source: github.com/joyelshamim/Co-optimization-Framework (a published copy of the Co-OPT MESS prototype),
# CSS/Model3_SmallScale.ipynb, CSS/Model3_LargeScale.ipynb, CSS/Model2_SmallScale.ipynb and
# "Optimal Routing for optimal charging cycle_Final_MODEL1_SmallScale_...ipynb" (historical NMC Model 1): stored
# cell outputs. Rows: vehicle, CO route, CO km, CO $, DM route, DM km, DM $, finish h, operational $, CO deg $,
# DM deg $, charging $ (None: the run printed no LMP table), charging min.
PRINTED_M3_SMALL_B11 = [44.6587, 43.7793, 28.7431, 39.2024, 31.5757, 42.0596, 40.3833, 47.4952, 38.8588, 43.7749,
                        30.9799, 35.6413, 44.0914, 35.2872, 35.5419, 42.2232, 37.1133, 46.7918, 49.384, 50.2737,
                        47.813, 33.9579, 44.6595, 42.6157]
PRINTED_M3_SMALL = [
    (1, "0 -> 1 -> 2 -> 1 -> 0", 90, 158.97, "0 -> 2 -> 0", 80, 161.07, 19.51, 154.03, 7.94, 17.37, 137.40, 35.97),
    (2, "0 -> 3 -> 4 -> 3 -> 0", 130, 218.63, "0 -> 4 -> 0", 120, 236.33, 21.26, 209.90, 8.10, 24.39, 200.34, 53.01),
    (3, "0 -> 3 -> 5 -> 3 -> 0", 110, 208.05, "0 -> 5 -> 0", 110, 223.36, 20.94, 198.93, 8.10, 18.87, 147.89, 37.17),
    (4, "0 -> 6 -> 1 -> 0", 90, 193.55, "0 -> 6 -> 0", 80, 182.96, 20.44, 177.28, 20.08, 21.46, 242.91, 67.34),
    (5, "0 -> 6 -> 1 -> 0", 90, 208.69, "0 -> 6 -> 0", 80, 198.10, 22.98, 194.54, 19.78, 21.46, 278.22, 67.34),
    (6, "0 -> 1 -> 2 -> 1 -> 0", 90, 200.47, "0 -> 2 -> 0", 80, 200.27, 22.54, 194.62, 8.29, 17.84, 151.67, 38.98),
    (7, "0 -> 3 -> 5 -> 3 -> 0", 110, 244.21, "0 -> 5 -> 0", 110, 259.62, 23.66, 231.39, 8.87, 19.49, 123.24, 40.78),
]
PRINTED_M3_LARGE_B11 = [29.5083, 32.194, 33.8076, 44.7597, 39.8446, 33.5836, 49.8104, 34.9143, 45.9476, 39.5364,
                        39.1097, 40.2943, 38.8938, 42.8544, 39.3742, 40.6807, 43.5463, 44.4919, 42.5615, 50.1984,
                        35.9678, 40.4084, 37.2471, 42.0814]
PRINTED_M3_LARGE = [
    (1, "0 -> 1 -> 2 -> 1 -> 0", 90, 158.97, "0 -> 2 -> 0", 80, 161.07, 19.51, 154.03, 7.94, 17.37, 133.03, 35.98),
    (2, "0 -> 3 -> 4 -> 3 -> 0", 130, 218.63, "0 -> 4 -> 0", 120, 236.33, 21.26, 209.90, 8.10, 24.39, 210.52, 53.01),
    (3, "0 -> 3 -> 5 -> 3 -> 0", 110, 208.05, "0 -> 5 -> 0", 110, 223.36, 20.94, 198.94, 8.10, 18.87, 132.61, 37.18),
    (4, "0 -> 6 -> 1 -> 0", 90, 193.55, "0 -> 6 -> 0", 80, 182.96, 20.44, 177.28, 20.08, 21.46, 246.42, 67.35),
    (5, "0 -> 7 -> 8 -> 7 -> 0", 95, 206.70, "0 -> 8 -> 0", 90, 209.36, 21.29, 203.70, 7.63, 19.29, 236.51, 62.10),
    (6, "0 -> 7 -> 9 -> 7 -> 0", 95, 222.14, "0 -> 9 -> 0", 90, 222.24, 21.34, 214.20, 7.63, 18.17, 246.79, 65.10),
    (7, "0 -> 11 -> 13 -> 0", 77, 190.91, "0 -> 11 -> 0", 82, 201.44, 20.21, 178.93, 19.59, 20.45, 241.96, 67.34),
    (8, "0 -> 10 -> 12 -> 10 -> 0", 80, 195.79, "0 -> 12 -> 0", 75, 190.19, 20.68, 190.35, 7.63, 14.97, 241.83,
     69.44),
    (9, "0 -> 14 -> 13 -> 0", 82, 157.94, "0 -> 14 -> 0", 80, 159.61, 19.50, 149.10, 16.04, 19.33, 234.28, 65.23),
    (10, "0 -> 13 -> 15 -> 13 -> 0", 82, 151.17, "0 -> 15 -> 0", 97, 175.02, 19.59, 150.57, 8.25, 21.08, 234.22,
     68.83),
    (11, "0 -> 6 -> 1 -> 0", 90, 193.55, "0 -> 6 -> 0", 80, 182.96, 22.44, 177.28, 20.08, 21.46, 226.21, 67.34),
    (12, "0 -> 11 -> 13 -> 0", 77, 167.25, "0 -> 11 -> 0", 82, 174.29, 21.76, 156.37, 19.59, 20.16, 222.62, 67.34),
    (13, "0 -> 1 -> 2 -> 1 -> 0", 90, 186.38, "0 -> 2 -> 0", 80, 187.30, 22.49, 184.62, 7.94, 17.37, 113.50, 35.97),
    (14, "0 -> 10 -> 12 -> 10 -> 0", 80, 195.79, "0 -> 12 -> 0", 75, 190.19, 22.68, 190.35, 7.63, 14.97, 238.46,
     69.43),
    (15, "0 -> 14 -> 13 -> 0", 82, 195.73, "0 -> 14 -> 0", 80, 200.06, 22.40, 186.14, 17.20, 21.96, 222.61, 67.34),
    (16, "0 -> 7 -> 9 -> 7 -> 0", 95, 222.14, "0 -> 9 -> 0", 90, 222.24, 23.34, 214.20, 7.63, 18.17, 233.93, 65.10),
    (17, "0 -> 3 -> 5 -> 3 -> 0", 110, 193.13, "0 -> 5 -> 0", 110, 208.06, 22.41, 182.41, 8.13, 18.87, 117.94,
     37.18),
]
PRINTED_M2_SMALL = [
    (1, "0 -> 1 -> 2 -> 1 -> 0", 90, 154.70, "0 -> 2 -> 0", 80, 190.08, 19.42, 152.41, 4.74, 46.38, None, 30.58),
    (2, "0 -> 3 -> 4 -> 3 -> 0", 130, 214.77, "0 -> 4 -> 0", 120, 292.55, 21.14, 207.80, 3.43, 80.62, None, 45.99),
    (3, "0 -> 3 -> 5 -> 3 -> 0", 110, 204.20, "0 -> 5 -> 0", 110, 270.59, 20.83, 196.88, 5.16, 66.10, None, 30.70),
    (4, "0 -> 1 -> 6 -> 1 -> 0", 100, 174.24, "0 -> 6 -> 0", 80, 222.43, 20.18, 178.42, 0.00, 60.93, None, 30.70),
    (5, "0 -> 1 -> 2 -> 1 -> 0", 90, 182.92, "0 -> 2 -> 0", 80, 224.11, 22.40, 182.82, 5.54, 54.17, None, 30.58),
]
PRINTED_M2_LARGE = [  # CSS/Model2_LargeScale.ipynb (no LMP table printed)
    (1, "0 -> 1 -> 2 -> 1 -> 0", 90, 154.70, "0 -> 2 -> 0", 80, 190.08, 19.42, 152.41, 4.74, 46.38, None, 30.58),
    (2, "0 -> 3 -> 4 -> 3 -> 0", 130, 214.77, "0 -> 4 -> 0", 120, 292.55, 21.14, 207.80, 3.43, 80.62, None, 45.99),
    (3, "0 -> 3 -> 5 -> 3 -> 0", 110, 204.20, "0 -> 5 -> 0", 110, 270.59, 20.83, 196.88, 5.16, 66.10, None, 30.69),
    (4, "0 -> 1 -> 6 -> 1 -> 0", 100, 174.24, "0 -> 6 -> 0", 80, 222.43, 20.18, 178.41, 0.00, 60.93, None, 30.69),
    (5, "0 -> 8 -> 7 -> 0", 95, 253.91, "0 -> 8 -> 0", 90, 253.31, 21.30, 204.04, 52.12, 63.24, None, 64.72),
    (6, "0 -> 9 -> 7 -> 0", 95, 267.91, "0 -> 9 -> 0", 90, 267.31, 21.28, 213.13, 52.53, 63.24, None, 63.50),
    (7, "0 -> 11 -> 10 -> 0", 81, 231.67, "0 -> 11 -> 0", 82, 241.00, 20.54, 188.36, 44.60, 54.24, None, 60.74),
    (8, "0 -> 10 -> 12 -> 10 -> 0", 80, 216.27, "0 -> 12 -> 10 -> 0", 85, 240.42, 20.60, 188.86, 28.86, 52.72, None,
     64.97),
    (9, "0 -> 14 -> 13 -> 0", 82, 186.86, "0 -> 14 -> 0", 80, 195.26, 19.41, 147.48, 46.58, 54.98, None, 59.83),
    (10, "0 -> 13 -> 15 -> 13 -> 0", 82, 168.10, "0 -> 15 -> 13 -> 0", 87, 192.50, 19.57, 150.24, 25.19, 45.49,
     None, 67.75),
    (11, "0 -> 8 -> 7 -> 0", 95, 227.02, "0 -> 8 -> 0", 90, 226.60, 22.72, 185.69, 42.62, 52.82, None, 64.72),
    (12, "0 -> 9 -> 7 -> 0", 95, 227.02, "0 -> 9 -> 0", 90, 226.60, 22.70, 185.29, 42.62, 52.82, None, 63.47),
    (13, "0 -> 11 -> 10 -> 0", 81, 216.11, "0 -> 11 -> 0", 82, 224.87, 22.54, 180.25, 41.16, 50.91, None, 60.71),
    (14, "0 -> 1 -> 2 -> 1 -> 0", 90, 195.92, "0 -> 2 -> 0", 80, 236.61, 22.40, 191.92, 5.46, 54.17, None, 30.88),
    (15, "0 -> 14 -> 13 -> 0", 82, 231.62, "0 -> 14 -> 0", 80, 242.28, 22.28, 183.74, 54.86, 64.18, None, 60.12),
    (16, "0 -> 10 -> 12 -> 10 -> 0", 80, 213.69, "0 -> 12 -> 10 -> 0", 85, 236.76, 22.60, 188.86, 26.28, 49.07, None,
     64.97),
]
# historical NMC Model 1, small scale: printed system totals (CO km, DM km, CO $, DM $, operational, degradation)
PRINTED_NMC_HIST_SMALL_TOTALS = (520.0, 470.0, 1032.75, 1937.61, 918.32, 120.78)

# Tolerances: printed values are rounded to 0.01 and the prototype drew ε ~ N(0, 0.01) kWh per energy
# evaluation (≈ 0.003 % SoC, ≈ 0.005 $ of charging per evaluation); the DA series is recovered from 4-decimal
# LMPs. Measured spread of the replay under noise seeds 0–7: < 0.01 $ for m3/m2 costs, < 0.015 $ for charging.
TOL_COST = 0.02
TOL_MIN = 0.02


def _da_from_bus11(b11: list[float], include_rt: bool) -> np.ndarray:
    """DA(h) = λ₁₁(h) − 1 − tariff(h) − ΔRT(h)·include_rt (Appendix A: bus 11 has mult = loss = 1)."""
    from tenflow.mess.prices import APPENDIX_A

    rt = APPENDIX_A["delta_rt"].to_numpy() if include_rt else 0.0
    return np.asarray(b11) - 1.0 - APPENDIX_A["tariff"].to_numpy() - rt


def _compare(r: ReplayResult, printed: list[tuple]) -> None:  # type: ignore[type-arg]
    v = r.vehicles.set_index("vehicle")
    assert list(v.index) == [p[0] for p in printed]
    for vid, co_route, co_km, co_cost, dm_route, dm_km, dm_cost, fin, op, co_deg, dm_deg, ch, ch_min in printed:
        row = v.loc[vid]
        assert row["co_route"] == co_route and row["dm_route"] == dm_route, vid
        assert row["co_km"] == co_km and row["dm_km"] == dm_km, vid
        for col, val in (("co_cost", co_cost), ("dm_cost", dm_cost), ("finish_h", fin), ("operational", op),
                         ("co_degradation", co_deg), ("dm_degradation", dm_deg)):
            assert abs(row[col] - val) <= TOL_COST, (vid, col, row[col], val)
        assert abs(row["charging_min"] - ch_min) <= TOL_MIN, (vid, row["charging_min"], ch_min)
        if ch is not None:
            assert abs(row["charging_cost"] - ch) <= TOL_COST, (vid, row["charging_cost"], ch)


def test_against_printed_prototype_output_m3_small(cases: dict[str, object]) -> None:
    da = _da_from_bus11(PRINTED_M3_SMALL_B11, include_rt=True)
    r = replay(cases["mess-small"], "m3", da_series=da)  # type: ignore[arg-type]
    _compare(r, PRINTED_M3_SMALL)
    t = r.totals_dict()
    for key, val in (("co_cost", 1432.58), ("dm_cost", 1461.72), ("operational", 1360.69), ("degradation", 81.16),
                     ("charging", 1281.65), ("total_incl_charging", 2723.51)):
        assert abs(t[key] - val) <= 0.05, (key, t[key], val)


def test_against_printed_prototype_output_m3_large(cases: dict[str, object]) -> None:
    da = _da_from_bus11(PRINTED_M3_LARGE_B11, include_rt=False)  # m3 large: ΔRT off
    r = replay(cases["mess-large"], "m3", da_series=da)  # type: ignore[arg-type]
    _compare(r, PRINTED_M3_LARGE)
    t = r.totals_dict()
    for key, val in (("co_km", 1555.0), ("dm_km", 1501.0), ("co_cost", 3257.81), ("dm_cost", 3326.69),
                     ("operational", 3118.37), ("degradation", 199.20), ("charging", 3533.44)):
        assert abs(t[key] - val) <= 0.1, (key, t[key], val)


def test_against_printed_prototype_output_m2_small(runs: dict[tuple[str, str], ReplayResult]) -> None:
    r = runs[("mess-small", "m2")]
    _compare(r, PRINTED_M2_SMALL)
    t = r.totals_dict()
    for key, val in (("co_cost", 930.84), ("dm_cost", 1199.76), ("operational", 918.33), ("degradation", 18.87)):
        assert abs(t[key] - val) <= 0.02, (key, t[key], val)


def test_against_printed_prototype_output_nmc_hist_small(runs: dict[tuple[str, str], ReplayResult]) -> None:
    """Totals only: the NMC cycle term at A₀ = 0 (first trip) is sensitive to the energy noise (spread ≈ 0.15 $
    over noise seeds 0–7), so the tolerance on cost/degradation is 0.2 $."""
    t = runs[("mess-small", "nmc-hist")].totals_dict()
    co_km, dm_km, co_cost, dm_cost, op, deg = PRINTED_NMC_HIST_SMALL_TOTALS
    assert t["co_km"] == co_km and t["dm_km"] == dm_km
    assert abs(t["co_cost"] - co_cost) <= 0.2 and abs(t["dm_cost"] - dm_cost) <= 0.2
    assert abs(t["operational"] - op) <= 0.02 and abs(t["degradation"] - deg) <= 0.2


def test_write_folder(runs: dict[tuple[str, str], ReplayResult], tmp_path: object) -> None:
    import json
    from pathlib import Path

    r = runs[("mess-small", "m3")]
    out = r.write(Path(str(tmp_path)) / "replay")
    names = sorted(p.name for p in out.iterdir())
    assert names == ["events.csv", "lmp.csv", "report.md", "report.txt", "run.json", "site_soc.csv", "totals.csv",
                     "trips.csv", "vehicles.csv"]
    back = pd.read_csv(out / "vehicles.csv")
    assert np.allclose(back["co_cost"], r.vehicles["co_cost"], rtol=0, atol=1e-9)
    run = json.loads((out / "run.json").read_text())
    assert run["model"] == "m3" and run["totals"]["trips"] == 7
    assert (out / "report.txt").read_text() == r.to_text()
    again = replay("mess-small", "m3").write(Path(str(tmp_path)) / "replay2")
    for n in ("vehicles.csv", "totals.csv", "trips.csv", "report.md"):
        assert (out / n).read_bytes() == (again / n).read_bytes()


def test_against_printed_prototype_output_m2_large(runs: dict[tuple[str, str], ReplayResult]) -> None:
    """Model 2 on the large network: the calendar term (clock time as battery age) and its time arguments."""
    r = runs[("mess-large", "m2")]
    _compare(r, PRINTED_M2_LARGE)
    t = r.totals_dict()
    for key, val in (("co_km", 1468.0), ("dm_km", 1411.0), ("co_cost", 3384.01), ("dm_cost", 3759.17),
                     ("operational", 2943.35), ("degradation", 476.22)):
        assert abs(t[key] - val) <= 0.02, (key, t[key], val)
