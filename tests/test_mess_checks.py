"""Plan invariants (mess.md §9 checks 3–6): the mess-tiny optimum passes, each kind of corruption is caught."""

from __future__ import annotations

import pytest
from tests.test_mess_evaluate import TINY_TRIP_1, TINY_TRIP_2, make_plan

from tenflow.mess.case import load_mess_case
from tenflow.mess.checks import (
    check_energy_balance,
    check_fleet,
    check_plan,
    check_soc_bounds,
    check_structure,
    check_swaps,
)
from tenflow.mess.evaluate import evaluate


@pytest.fixture(scope="module")
def tiny():  # type: ignore[no-untyped-def]
    return load_mess_case("mess-tiny")


def _ev(case, trips):  # type: ignore[no-untyped-def]
    return evaluate(case, make_plan(trips))


def test_optimum_is_clean(tiny) -> None:  # type: ignore[no-untyped-def]
    assert check_plan(_ev(tiny, [("T", "1", 2, TINY_TRIP_1), ("T", "2", 2, TINY_TRIP_2)])) == []


def test_wrong_travel_level(tiny) -> None:  # type: ignore[no-untyped-def]
    t1 = list(TINY_TRIP_1)
    t1[1] = ("travel", 0, 2, 2, 3, 5, 4)  # 0→2 uses 2 buckets, not 1
    t1[2] = ("swap", 2, 2, 3, 4, 4, 1)
    v = check_energy_balance(_ev(tiny, [("T", "1", 2, t1), ("T", "2", 2, TINY_TRIP_2)]))
    assert any("not in [0, 20)" in x for x in v)
    v = check_structure(_ev(tiny, [("T", "1", 2, t1), ("T", "2", 2, TINY_TRIP_2)]))
    assert any("conservative level 3" in x for x in v)


def test_fleet_violation_with_one_truck(tiny) -> None:  # type: ignore[no-untyped-def]
    v = check_fleet(_ev(tiny, [("T", "1", 2, TINY_TRIP_1), ("T", "1", 2, TINY_TRIP_2)]))
    assert any("truck 1: overlapping trips" in x for x in v)


def test_depletion_caught(tiny) -> None:  # type: ignore[no-untyped-def]
    # only the second trip: the initial pack (80 kWh, 30 kWh/h) is at 20 kWh at 09:00, 5 kWh at 09:30 < reserve
    ev = _ev(tiny, [("T", "2", 2, TINY_TRIP_2)])
    v = check_swaps(ev)
    assert any("depleted before the swap" in x for x in v)
    assert any("level 2" in x for x in v)  # truck continues with level 2 but removed pack is level 0
    v = check_soc_bounds(ev)
    assert any("< reserve" in x for x in v)


def test_last_pack_too_small(tiny) -> None:  # type: ignore[no-untyped-def]
    # first trip only: 60 kWh installed 09:00 -> 0 kWh at 11:00 < end_soc_min 20 kWh
    v = check_soc_bounds(_ev(tiny, [("T", "1", 2, TINY_TRIP_1)]))
    assert any("last pack" in x for x in v)


def test_structure_errors(tiny) -> None:  # type: ignore[no-untyped-def]
    t1 = [("wait", 0, 0, 0, 1, 3, 3)] + list(TINY_TRIP_1)  # leading wait at the depot
    v = check_structure(_ev(tiny, [("T", "1", 2, t1), ("T", "2", 2, TINY_TRIP_2)]))
    assert any("first arc" in x for x in v)
    t3 = [("charge", 0, 0, 0, 1, 3, 5), ("travel", 0, 1, 1, 2, 5, 4), ("charge", 1, 1, 2, 3, 4, 4)]
    v = check_structure(_ev(tiny, [("T", "1", 2, TINY_TRIP_1), ("T", "2", 2, t3)]))
    assert any("0 swaps" in x for x in v)
    assert any("charges 0 levels" in x for x in v)
    assert any("does not start and end at the depot" in x for x in v)


def test_window_violation(tiny) -> None:  # type: ignore[no-untyped-def]
    case = tiny.copy()
    case.sites.loc[0, "window_end"] = 9.0  # second swap completes 09:30
    v = check_swaps(evaluate(case, make_plan([("T", "1", 2, TINY_TRIP_1), ("T", "2", 2, TINY_TRIP_2)])))
    assert any("outside window" in x for x in v)


def test_plug_violation(tiny) -> None:  # type: ignore[no-untyped-def]
    case = tiny.copy()
    case.config["depot"]["plugs"] = 1
    # both trucks charge at the depot at step 7 (trip 1: 1→3, trip 2: 1→3)
    v = check_fleet(evaluate(case, make_plan([("T", "1", 2, TINY_TRIP_1), ("T", "2", 2, TINY_TRIP_2)])))
    assert any("charger depot" in x and "> 1 plugs" in x for x in v)


@pytest.mark.parametrize("case_name,model", [
    ("mess-tiny", None), ("mess-tiny-2", None), ("mess-small", "nmc"), ("mess-small", "lfp"),
    ("mess-small", "generalized"),
    pytest.param("mess-large", "nmc", marks=pytest.mark.slow),
    pytest.param("mess-large", "lfp", marks=pytest.mark.slow),
    pytest.param("mess-large", "generalized", marks=pytest.mark.slow)])
def test_optimized_plan_invariants(case_name: str, model: str | None) -> None:
    """§9 checks 3–6 on the optimiser's plans (energy balance, SoC bounds, swaps before depletion and inside
    windows, fleet/plugs/truck overlaps) — replayed independently of the optimiser's tables."""
    from tests._mess_solved import solved

    _, res, ev, _ = solved(case_name, model)
    assert ev is not None
    assert check_plan(ev) == []
