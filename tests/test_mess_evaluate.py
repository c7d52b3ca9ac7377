"""Independent plan evaluator (mess.md §9 check 7) on hand-built plans.

The mess-tiny optimum (Appendix C, J* = 260.716919 $) was found by an exhaustive enumeration written for this test
(outside the package, see the helper's report): two trips; its cost under §6.1 must be reproduced to 1e-6 $. The
per-component numbers below are computed by hand from the case data (prices, km, wages, Φ of §4.4).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tenflow.mess.case import load_mess_case
from tenflow.mess.evaluate import evaluate
from tenflow.mess.plan import ARC_COLUMNS, TRIP_COLUMNS, Plan

# (kind, frm, to, j_from, j_to, q_from, q_to) of the two trips of the mess-tiny optimum
TINY_TRIP_1 = [("charge", 0, 0, 1, 2, 3, 5), ("travel", 0, 2, 2, 3, 5, 3), ("swap", 2, 2, 3, 4, 3, 1),
               ("travel", 2, 1, 4, 5, 1, 0), ("charge", 1, 1, 5, 6, 0, 2), ("travel", 1, 0, 6, 7, 2, 1),
               ("charge", 0, 0, 7, 8, 1, 3)]
TINY_TRIP_2 = [("charge", 0, 0, 0, 1, 3, 5), ("travel", 0, 1, 1, 2, 5, 4), ("charge", 1, 1, 2, 3, 4, 5),
               ("travel", 1, 2, 3, 4, 5, 4), ("swap", 2, 2, 4, 5, 4, 2), ("travel", 2, 0, 5, 6, 2, 0),
               ("charge", 0, 0, 6, 7, 0, 1), ("charge", 0, 0, 7, 8, 1, 3)]


def make_plan(trips: list[tuple[str, str, int, list[tuple]]], method: str = "hand") -> Plan:
    """Plan from ``[(type, truck, site, arcs)]`` with arcs as above."""
    trows, arows = [], []
    for t, (typ, truck, site, arcs) in enumerate(trips):
        sw = ([a for a in arcs if a[0] == "swap"] or [("swap", site, site, -1, -1, -1, -1)])[0]
        trows.append(dict(trip=t, type=typ, truck=truck, site=site, j_start=arcs[0][3], j_arrive=sw[3],
                          j_swap_end=sw[4], j_end=arcs[-1][4], q_start=arcs[0][5], q_delivered=sw[5],
                          q_removed=sw[6], q_end=arcs[-1][6]))
        for s, (k, f, to, j0, j1, q0, q1) in enumerate(arcs):
            ch = ("depot" if f == 0 else str(f)) if k == "charge" else ""
            arows.append(dict(trip=t, seq=s, kind=k, frm=f, to=to, j_from=j0, j_to=j1, q_from=q0, q_to=q1,
                              charger=ch))
    return Plan(method, pd.DataFrame(trows, columns=TRIP_COLUMNS), pd.DataFrame(arows, columns=ARC_COLUMNS))


def tiny_optimum() -> Plan:
    return make_plan([("T", "1", 2, TINY_TRIP_1), ("T", "2", 2, TINY_TRIP_2)])


def phi_gen(d: float, cost: float = 20000.0) -> float:
    """Φ(D) = cost/N(D), N(D) = 4901·D^−1.98·e^{0.016(1−D)} (mess.md §4.4), written out independently."""
    return 0.0 if d <= 0 else cost / (4901.0 * d ** -1.98 * math.exp(0.016 * (1 - d)))


def test_tiny_optimum_reproduces_appendix_c() -> None:
    ev = evaluate(load_mess_case("mess-tiny"), tiny_optimum())
    assert ev.total == pytest.approx(260.716919, abs=1e-6)


def test_tiny_breakdown_by_hand() -> None:
    ev = evaluate(load_mess_case("mess-tiny"), tiny_optimum())
    b = ev.breakdown
    # depot: trip 1 buys 2 + 2 buckets, trip 2 buys 2 + 1 + 2 buckets; 9 buckets of 20 kWh at 0.20 $/kWh
    assert b["energy"] == pytest.approx(9 * 20 * 0.20)
    # charger 1: trip 1 at 09:30 (0.50 $/kWh) 2 buckets, trip 2 at 08:00 (0.50) 1 bucket
    assert b["charging"] == pytest.approx(3 * 20 * 0.50)
    assert b["tolls"] == pytest.approx(80 * 0.20)
    assert b["maintenance"] == pytest.approx(80 * 0.21)
    # wages: trip 1 07:30–11:00, trip 2 07:00–11:00 at 20 $/h
    assert b["wages"] == pytest.approx(20 * 3.5 + 20 * 4.0)
    assert b["degradation_calendar"] == 0.0  # generalized model has no calendar term
    # cycle wear: trucks 5→3, 1→0, 2→1 | 5→4, 5→4, 2→0; sites 4→1, 3→2, 4→1 (levels of 0.2)
    def w(q1: int, q2: int) -> float:
        return phi_gen(1 - q2 / 5) - phi_gen(1 - q1 / 5)
    trucks = w(5, 3) + w(1, 0) + w(2, 1) + 2 * w(5, 4) + w(2, 0)
    sites = w(4, 1) + w(3, 2) + w(4, 1)
    assert b["wear_trips"] == pytest.approx(trucks, rel=1e-12)
    assert b["wear_sites"] == pytest.approx(sites, rel=1e-12)
    assert b["total"] == pytest.approx(36 + 30 + 16 + 16.8 + 150 + trucks + sites, rel=1e-12)


def test_tiny_trip_table_and_per_truck() -> None:
    ev = evaluate(load_mess_case("mess-tiny"), tiny_optimum())
    tr = ev.trips.set_index("trip")
    assert tr.loc[0, "kwh_delivered"] == pytest.approx(60.0)
    assert tr.loc[1, "kwh_delivered"] == pytest.approx(80.0)
    # removed packs: initial 80 kWh − 30 kWh/h × 2 h = 20; 60 − 30 × 0.5 = 45
    assert tr.loc[0, "kwh_removed"] == pytest.approx(20.0)
    assert tr.loc[1, "kwh_removed"] == pytest.approx(45.0)
    assert tr["km"].tolist() == [40.0, 40.0]
    assert tr["kwh_traction"].sum() == pytest.approx(160.0)  # 2 kWh/km, prototype physics
    pt = ev.per_truck().set_index("truck")
    assert pt.loc["total", "total"] == pytest.approx(ev.total, abs=1e-9)
    assert pt.loc[["1", "2", "sites", "idle_packs", "end_credit"], "total"].sum() == pytest.approx(ev.total)
    s = ev.summary()
    assert s["cost_per_km"] == pytest.approx(ev.total / 80.0)


def test_tiny_site_soc() -> None:
    ev = evaluate(load_mess_case("mess-tiny"), tiny_optimum())
    soc = ev.site_soc.set_index("j")["soc"]
    # initial pack: 0.8 at 07:00, 30 kWh/h of 100 kWh
    assert soc.loc[0] == pytest.approx(0.8)
    assert soc.loc[3] == pytest.approx(0.8 - 0.3 * 1.5)
    assert soc.loc[8] == pytest.approx((80 - 30 * 1.5) / 100)  # last pack: 80 kWh installed 09:30


# ---------------------------------------------------------------------------------------------------------
# evaluator == optimiser (mess.md §9 check 7) — independent code paths must agree to 1e-6 $
# ---------------------------------------------------------------------------------------------------------
SOLVED = [("mess-tiny", None), ("mess-tiny-2", None), ("mess-small", "nmc"), ("mess-small", "lfp"),
          ("mess-small", "generalized"),
          pytest.param("mess-large", "nmc", marks=pytest.mark.slow),
          pytest.param("mess-large", "lfp", marks=pytest.mark.slow),
          pytest.param("mess-large", "generalized", marks=pytest.mark.slow)]


@pytest.mark.parametrize("case_name,model", SOLVED)
def test_evaluator_equals_optimizer(case_name: str, model: str | None) -> None:
    from tests._mess_solved import solved

    _, res, ev, _ = solved(case_name, model)
    assert res.status == "optimal"
    assert ev is not None
    assert ev.total == pytest.approx(res.objective, abs=1e-6)


@pytest.mark.parametrize("case_name,ref", [("mess-tiny", 260.716919), ("mess-tiny-2", 418.093344)])
def test_optimizer_plan_reproduces_appendix_c(case_name: str, ref: float) -> None:
    from tests._mess_solved import solved

    _, res, ev, _ = solved(case_name, None)
    assert ev.total == pytest.approx(ref, abs=1e-6)


def test_bad_plans_raise_tenflow_errors() -> None:
    from tenflow.errors import TenflowError

    case = load_mess_case("mess-tiny")
    t2 = list(TINY_TRIP_2)
    t2[1] = ("travel", 0, 7, 1, 2, 5, 4)
    with pytest.raises(TenflowError, match="no road 0→7"):
        evaluate(case, make_plan([("T", "1", 2, TINY_TRIP_1), ("T", "2", 2, t2)]))
    with pytest.raises(TenflowError, match="unknown truck types"):
        evaluate(case, make_plan([("X", "1", 2, TINY_TRIP_1)]))
    t3 = list(TINY_TRIP_1)
    t3[2] = ("charge", 2, 2, 3, 4, 3, 4)
    with pytest.raises(TenflowError, match="no charger at node 2"):
        evaluate(case, make_plan([("T", "1", 2, t3)]))
    p = tiny_optimum()
    p.arcs = p.arcs.drop(columns=["q_to"])
    with pytest.raises(TenflowError, match="missing column 'q_to'"):
        evaluate(case, p)


@pytest.mark.parametrize("case_name,model", [("mess-tiny", "generalized"), ("mess-tiny-2", "generalized"),
                                             ("mess-small", "lfp")])
def test_evaluator_equals_optimizer_with_fees_credit_plugs(case_name: str, model: str) -> None:
    """Cost terms that are zero in the built-in cases: charger and global fees, end-energy credit, plug limits."""
    from tests._mess_solved import solved

    solved("mess-tiny", None)  # skips if the optimiser is not available
    from tenflow.mess.checks import check_plan
    from tenflow.mess.optimize import solve

    case = load_mess_case(case_name).copy()
    case.config["costs"]["end_energy_credit_per_kwh"] = 0.1
    case.config["costs"]["charge_fee_per_kwh"] = 0.03
    case.chargers.loc[0, "fee_per_kwh"] = 0.02
    case.chargers.loc[0, "plugs"] = 1
    case.config["depot"]["plugs"] = 3
    res = solve(case, degradation=model, time_limit=300)
    assert res.status == "optimal"
    ev = evaluate(case, res.plan, model)
    assert ev.breakdown["end_credit"] > 0
    assert ev.total == pytest.approx(res.objective, abs=1e-6)
    assert check_plan(ev) == []
