"""The exact MESS optimiser end to end (mess.md §6.2, §8): statuses, certificates, errors, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tenflow.errors import CaseError, InfeasibleError
from tenflow.mess import optimize
from tenflow.mess.case import load_mess_case
from tenflow.mess.instance import build_instance
from tenflow.mess.testing import random_micro


def test_solve_by_name_and_plan_tables() -> None:
    res = optimize.solve("mess-tiny")
    assert res.status == "optimal" and abs(res.objective - 260.716919) < 1e-6 and res.gap <= 1e-6
    tr, arcs = res.plan.trips, res.plan.arcs
    assert list(tr["trip"]) == [0, 1] and set(tr["truck"]) == {"1", "2"}
    assert res.plan.objective == res.objective and res.plan.lb == res.lb
    for _, t in tr.iterrows():
        a = arcs[arcs["trip"] == t["trip"]].sort_values("seq")
        # arcs are contiguous in time and level, one swap, start at q_dep at the depot, end at the depot
        assert (a["j_from"].to_numpy()[1:] == a["j_to"].to_numpy()[:-1]).all()
        assert (a["q_from"].to_numpy()[1:] == a["q_to"].to_numpy()[:-1]).all()
        assert (a["kind"] == "swap").sum() == 1
        assert a.iloc[0]["frm"] == 0 and a.iloc[-1]["to"] == 0 and a.iloc[0]["q_from"] == t["q_start"] == 3
        assert a.iloc[-1]["q_to"] == t["q_end"] >= 3
        sw = a[a["kind"] == "swap"].iloc[0]
        assert (sw["j_from"], sw["j_to"], sw["q_from"], sw["q_to"]) == (
            t["j_arrive"], t["j_swap_end"], t["q_delivered"], t["q_removed"])


def test_evaluator_reproduces_objective_tiny2() -> None:
    from tenflow.mess.evaluate import evaluate

    case = load_mess_case("mess-tiny-2")
    res = optimize.solve(case)
    assert abs(res.objective - 418.093344) < 1e-6
    assert abs(evaluate(case, res.plan).total - res.objective) < 1e-6


def test_one_truck_certificate() -> None:
    inst = build_instance(load_mess_case("mess-tiny"))
    inst.types[0].count = 1
    inst.types[0].truck_ids = ["1"]
    with pytest.raises(InfeasibleError) as ei:
        optimize.solve(inst)
    msg = str(ei.value)
    assert "type T short by 1 truck during" in msg and "sites 2" in msg
    assert ei.value.exit_code == 3


def _tiny_modified(**changes: object) -> object:
    case = load_mess_case("mess-tiny").copy()
    for (table, col), val in changes.items():  # type: ignore[misc]
        df = getattr(case, table)
        df[col] = val
    return case


def test_e_deadline() -> None:
    case = load_mess_case("mess-tiny").copy()
    case.sites["soc_init"] = 0.3  # 30 kWh, reserve 20 kWh at 30 kWh/h: reached at 07:20; first completion 08:00
    with pytest.raises(CaseError) as ei:
        optimize.solve(case)
    assert ei.value.codes == ["E-DEADLINE"]
    assert "site 2: initial pack reaches reserve at 07:20 but the earliest swap completion is 08:00" in str(ei.value)


def test_e_unreachable() -> None:
    case = load_mess_case("mess-tiny").copy()
    case.trucks["flat_kwh_per_km"] = 11.0  # every 10 km leg needs 110 kWh > the 100 kWh pack
    with pytest.raises(CaseError) as ei:
        optimize.solve(case)
    assert ei.value.codes == ["E-UNREACHABLE"]


def test_e_supply() -> None:
    case = load_mess_case("mess-tiny").copy()
    case.excavators["consumption_kwh_per_h"] = 60.0  # 240 kWh over the day: more than the swaps can bring
    with pytest.raises(CaseError) as ei:
        optimize.solve(case)
    assert ei.value.codes[0] in ("E-SUPPLY", "E-DEADLINE")


def test_e_unreachable_names_best_route_and_soc() -> None:
    """11 kWh/km: even with the pack charged to soc_max (100 kWh) at the depot, the 10 km leg to the charger needs
    110 kWh (-> -10 %), and the direct 20 km leg 220 kWh (-> -120 %): the best route is 0→1→2, lowest at node 1."""
    case = load_mess_case("mess-tiny").copy()
    case.trucks["flat_kwh_per_km"] = 11.0
    with pytest.raises(CaseError) as ei:
        optimize.solve(case)
    assert ei.value.codes == ["E-UNREACHABLE"]
    assert ("site 2: no energy-feasible trip: best route 0→1→2 drops to -10.0 % at node 1 < soc_min 0 %"
            in str(ei.value))


def test_e_unreachable_arrival_below_soc_min() -> None:
    """No en-route charging (charger power 0), 3.5 kWh/km, soc_min 40 %: from 100 kWh (depot charging to soc_max)
    the direct 20 km leg arrives with 100 - 70 = 30 kWh = 30 % (via node 1 also 30 %, but with more legs)."""
    case = load_mess_case("mess-tiny").copy()
    case.trucks["flat_kwh_per_km"] = 3.5
    case.trucks["soc_min"] = 0.4
    case.chargers["power_kw"] = 0.0
    with pytest.raises(CaseError) as ei:
        optimize.solve(case)
    assert ei.value.codes == ["E-UNREACHABLE"]
    assert "site 2: no energy-feasible trip: best route 0→2 arrives with 30.0 % < soc_min 40 %" in str(ei.value)


def test_e_supply_counts_swaps_and_energy_bound() -> None:
    """Window 07:00–08:30, 30-min steps and service: the earliest arrival is 07:30 (20 km at 40 km/h), so at most
    2 swaps (07:30–08:00, 08:00–08:30). A pack arriving by 08:00 holds at most 60 kWh (charged to 100 kWh at the
    depot 07:00–07:30, then 40 kWh for the 20 km; via the charger it arrives 08:30). Energy bound:
    80 (initial) - 20 (end minimum) + 2·(60 - 20) = 140 kWh < demand 4 h · 40 kW = 160 kWh; the initial pack lasts
    to 08:30 (60 kWh above the reserve at 40 kW), after the first completion at 08:00, so it is not a deadline."""
    case = load_mess_case("mess-tiny").copy()
    case.excavators["consumption_kwh_per_h"] = 40.0
    case.sites["window_end"] = 8.5
    with pytest.raises(CaseError) as ei:
        optimize.solve(case)
    assert ei.value.codes == ["E-SUPPLY"]
    assert ("site 2: demand 160.0 kWh cannot be covered: at most 2 swaps fit in the window 07:00–08:30 and "
            "deliverable energy is ≤ 140.0 kWh" in str(ei.value))


def test_plug_coupling_needs_column_generation() -> None:
    case = load_mess_case("mess-tiny").copy()
    case.config["depot"]["plugs"] = 1
    res = optimize.solve(case)
    assert res.status == "optimal" and res.iterations > 1
    assert abs(res.objective - 272.06883439979504) < 1e-6  # = M_Δ (tests/test_mess_exact_against_milp.py)
    ch = res.plan.arcs[(res.plan.arcs["kind"] == "charge") & (res.plan.arcs["charger"] == "depot")]
    assert ch.groupby("j_from").size().max() == 1


def test_numba_and_numpy_paths_give_identical_plans() -> None:
    for inst_a, inst_b in [(build_instance(load_mess_case("mess-tiny-2")), build_instance(load_mess_case("mess-tiny-2"))),
                           (random_micro(7), random_micro(7))]:
        a = optimize.solve_instance(inst_a, numba=True)
        b = optimize.solve_instance(inst_b, numba=False)
        assert a.objective == b.objective
        pd.testing.assert_frame_equal(a.plan.trips, b.plan.trips)
        pd.testing.assert_frame_equal(a.plan.arcs, b.plan.arcs)


def test_deterministic() -> None:
    a = optimize.solve("mess-tiny-2")
    b = optimize.solve("mess-tiny-2")
    pd.testing.assert_frame_equal(a.plan.arcs, b.plan.arcs)


def _no_truck_overlap(plan) -> None:  # type: ignore[no-untyped-def]
    for _, g in plan.trips.groupby("truck"):
        g = g.sort_values("j_start")
        assert (g["j_start"].to_numpy()[1:] >= g["j_end"].to_numpy()[:-1]).all()


@pytest.mark.parametrize("model", ["generalized", "nmc", "lfp"])
def test_mess_small_optimal(model: str) -> None:
    from tenflow.mess.evaluate import evaluate

    case = load_mess_case("mess-small")
    res = optimize.solve(case, degradation=model)
    assert res.status == "optimal" and res.gap <= 1e-6
    assert abs(evaluate(case, res.plan, model).total - res.objective) < 1e-6
    _no_truck_overlap(res.plan)
    # fleet limit per type and step
    counts = case.truck_types().set_index("type")["count"]
    occ = np.zeros((len(counts), 229), dtype=int)
    for _, t in res.plan.trips.iterrows():
        occ[list(counts.index).index(t["type"]), t["j_start"]:t["j_end"]] += 1
    assert (occ <= counts.to_numpy()[:, None]).all()


@pytest.mark.slow
@pytest.mark.parametrize("model", ["generalized", "nmc", "lfp"])
def test_mess_large_optimal(model: str) -> None:
    from tenflow.mess.evaluate import evaluate

    case = load_mess_case("mess-large")
    res = optimize.solve(case, degradation=model)
    assert res.status == "optimal" and res.gap <= 1e-6
    assert abs(evaluate(case, res.plan, model).total - res.objective) < 1e-6
    _no_truck_overlap(res.plan)


def test_numpy_fallback_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENFLOW_NO_NUMBA", "1")
    from tenflow.core import tsdp

    assert not tsdp.use_numba()
    assert abs(optimize.solve("mess-tiny").objective - 260.716919) < 1e-6


@pytest.mark.parametrize("method", ["nearest", "shortest"])
def test_baseline_plan_as_columns_costs_equal_evaluator(method: str) -> None:
    """A baseline plan (helper code, independent of the optimiser) mapped onto the instance arrays has the same
    cost as the evaluator gives it: the instance's arc, swap and site-period costs agree with §6.1."""
    from tenflow.mess.baselines import baseline
    from tenflow.mess.evaluate import evaluate

    case = load_mess_case("mess-small")
    inst = build_instance(case)
    plan = baseline(case, method)
    assert plan.status == "feasible"
    cols = optimize.columns_from_plan(inst, plan)
    assert cols is not None and len(cols) == len(inst.sites)
    assert abs(sum(c.cost for c in cols) + inst.const - evaluate(case, plan).total) < 1e-6
    res = optimize.solve(case)
    assert res.objective <= evaluate(case, plan).total + 1e-9


def test_time_limit_gives_feasible_with_bound() -> None:
    res = optimize.solve("mess-small", time_limit=0.01)
    assert res.status in ("feasible", "optimal")
    assert res.lb <= res.objective + 1e-9 and abs(res.gap - (res.objective - res.lb)) < 1e-9
    full = optimize.solve("mess-small")
    assert res.lb <= full.objective + 1e-9 <= res.objective + 2e-9
