"""Traffic and travel time (mess.md §3.3)."""

from __future__ import annotations

import numpy as np
import pytest

from tenflow.mess.case import load_mess_case
from tenflow.mess.physics import LegModel
from tenflow.mess.traffic import TrafficModel, drive, travel_time


@pytest.fixture(scope="module")
def case():  # type: ignore[no-untyped-def]
    return load_mess_case("mess-large")


def _proto(case):  # type: ignore[no-untyped-def]
    c = case.copy()
    c.config["traffic"]["model"] = "prototype"
    return c


@pytest.mark.parametrize(("km_pieces", "dep", "expect"), [
    ([(1, 2.0), (2, 19.0), (3, 19.0)], 14.0, 1.193131),
    ([(1, 2.0), (2, 19.0), (3, 19.0)], 9.0, 0.880392),
    ([(1, 2.0), (2, 1.5), (3, 1.5)], 14.0, 0.167879),
    ([(1, 2.0), (2, 19.0), (3, 19.0)], 11.5, 0.880392),
])
def test_prototype_values(case, km_pieces, dep, expect) -> None:  # type: ignore[no-untyped-def]
    """§3.3 test values (prototype, v = 50)."""
    assert travel_time(_proto(case), 50.0, km_pieces, dep) == pytest.approx(expect, abs=1e-6)


def test_prototype_by_hand(case) -> None:  # type: ignore[no-untyped-def]
    """τ = d₁/(v f₁) + d₂/(v f₂) + d₃/(v f₃) with evening factors 0.5, 0.55, 0.9."""
    assert travel_time(_proto(case), 50.0, [(1, 2.0), (2, 19.0), (3, 19.0)], 14.0) == pytest.approx(
        2 / 25 + 19 / 27.5 + 19 / 45, rel=1e-14)


def test_fifo_crossing_noon(case) -> None:  # type: ignore[no-untyped-def]
    """FIFO 11:30: 0.922828 h (spec); by hand: morning until 12:00, then evening speeds."""
    tau = travel_time(case, 50.0, [(1, 2.0), (2, 19.0), (3, 19.0)], 11.5)
    assert tau == pytest.approx(0.922828, abs=1e-6)
    t1 = 2 / 37.5
    km2_morning = 42.5 * (0.5 - t1)
    by_hand = 0.5 + (19 - km2_morning) / 27.5 + 19 / 45
    assert tau == pytest.approx(by_hand, rel=1e-13)


def test_fifo_property(case) -> None:  # type: ignore[no-untyped-def]
    """Leaving later never arrives earlier (FIFO) under `fifo`; `prototype` is not FIFO at 07:00."""
    deps = np.linspace(5.0, 23.0, 2161)
    pieces = [(1, 2.0), (2, 19.0), (3, 19.0)]
    arr = deps + travel_time(case, 50.0, pieces, deps)
    assert np.all(np.diff(arr) >= -1e-12)
    arr_p = deps + travel_time(_proto(case), 50.0, pieces, deps)
    assert np.any(np.diff(arr_p) < -1e-6)


def test_none_constant_speed(case) -> None:  # type: ignore[no-untyped-def]
    c = case.copy()
    c.config["traffic"]["model"] = "none"
    assert travel_time(c, 50.0, [(1, 2.0), (2, 19.0), (3, 19.0)], 8.0) == pytest.approx(0.8, rel=1e-15)


def test_drive_segments(case) -> None:  # type: ignore[no-untyped-def]
    tm = TrafficModel.from_case(case)
    assert tm.segment(7.0) == "Morning Peak" and tm.segment(12.0) == "Evening Peak"
    assert tm.segment(6.99) == "Evening Peak"
    out = drive(tm, [(3, 300.0)], 50.0, 6.5)  # crosses 07:00 and 12:00
    assert [round(p[3], 9) for p in out] == [45.0, 50.0, 45.0]
    assert [p[1] for p in out] == pytest.approx([22.5, 250.0, 27.5], rel=1e-13)


def test_leg_uses_free_speed(case) -> None:  # type: ignore[no-untyped-def]
    c = case.copy()
    c.arcs.loc[(c.arcs["from"] == 0) & (c.arcs["to"] == 1), "free_speed_kmh"] = 25.0
    c.config["traffic"]["model"] = "none"
    assert LegModel(c).leg("S", 0, 1, 9.0).duration_h == pytest.approx(40 / 25)
