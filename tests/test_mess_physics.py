"""Vehicle energy models and legs (mess.md §3.1, §3.2) — spec test values and independent checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tenflow.errors import CaseError
from tenflow.mess.case import load_mess_case
from tenflow.mess.importer import calibrate_crr
from tenflow.mess.physics import LegModel, default_truck, leg, truck_energy_kwh


def test_default_truck_closed_form() -> None:
    """§3.1 test values: 10 km at 50 km/h, no traffic: flat / +5 % / −5 %."""
    e = truck_energy_kwh(default_truck(), 10.0, 50.0, np.array([0.0, 5.0, -5.0]))
    assert e == pytest.approx([11.826680, 87.415351, -34.167714], abs=1e-6)


def test_default_truck_by_hand() -> None:
    """Recompute the flat value from first principles (N·km → kWh) independently of the vectorised code."""
    m, g, crr, rho, cda, v = 50000.0, 9.81, 0.006, 1.2, 6.0, 50.0
    force = m * g * crr + 0.5 * rho * cda * (v / 3.6) ** 2
    joules = force * 10_000.0 / 0.90
    kwh = joules / 3.6e6 + 3.0 * 10.0 / v
    assert truck_energy_kwh(default_truck(), 10.0, v, 0.0) == pytest.approx(kwh, rel=1e-12)


def test_regen_power_cap() -> None:
    """A steep descent: regenerated power is capped at P_regen,max."""
    tp = default_truck()
    e = float(truck_energy_kwh(tp, 10.0, 50.0, -30.0))
    assert e == pytest.approx(-250.0 * 0.2 + 3.0 * 0.2, rel=1e-12)


def test_calibration_reproduces_flat_consumption() -> None:
    """§3.1 calibration: steady flat driving at speed_kmh consumes flat_kwh_per_km (values of §2.5)."""
    for v, e, expect in ((50, 1.0, 0.004793), (45, 1.0, 0.005018), (40, 1.0, 0.005204), (40, 1.5, 0.008507)):
        crr = calibrate_crr(e, v, 50000.0)
        assert crr == pytest.approx(expect, abs=5e-7)
        tp = default_truck(crr=crr, speed_kmh=v)
        assert float(truck_energy_kwh(tp, 7.0, v, 0.0)) == pytest.approx(7.0 * e, rel=1e-12)


LARGE_VALUES = [
    (0, 1, "S", 9.0, 0.880392, 38.9236),
    (0, 1, "S", 14.0, 1.193131, 37.2437),
    (0, 1, "S", 11.5, 0.922828, 38.2756),
    (0, 1, "S", 6 + 50 / 60, 0.937647, 38.7468),
    (1, 2, "S", 14.0, 0.167879, 64.9479),
    (2, 0, "S", 14.0, 1.193131, -206.6214),
    (0, 6, "S", 14.0, 1.193131, 339.6075),
    (0, 1, "L15", 14.0, 1.491414, 58.9554),
    (3, 4, "M", 10.0, 0.373638, -86.3814),
    (4, 3, "M", 10.0, 0.373638, 195.7077),
]


@pytest.fixture(scope="module")
def large() -> LegModel:
    return LegModel(load_mess_case("mess-large"))


@pytest.mark.parametrize(("a", "b", "typ", "dep", "tau", "kwh"), LARGE_VALUES)
def test_large_fifo_table(large: LegModel, a: int, b: int, typ: str, dep: float, tau: float, kwh: float) -> None:
    """§3.1 table (built-in large case, FIFO traffic), tolerance 1e-4."""
    lg = large.leg(typ, a, b, dep)
    assert lg.duration_h == pytest.approx(tau, abs=1e-6)
    assert lg.energy_kwh == pytest.approx(kwh, abs=1e-4)
    assert lg.km == pytest.approx(lg.pieces[:, 0].sum(), abs=1e-12)
    assert lg.duration_h == pytest.approx(lg.pieces[:, 1].sum(), abs=1e-12)
    assert lg.energy_kwh == pytest.approx(lg.pieces[:, 2].sum(), abs=1e-12)


def test_feasible_from_full(large: LegModel) -> None:
    """0→6 S 14:00 needs 339.6 kWh > 332.5 usable from 100 % (soc_min 5 %): infeasible."""
    assert not large.leg("S", 0, 6, 14.0).feasible_from_full
    assert large.leg("S", 0, 1, 14.0).feasible_from_full
    assert leg(large.case, "S", 2, 0, 14.0).feasible_from_full


def test_integrate_cap(large: LegModel) -> None:
    """Regeneration is capped at soc_max; the surplus is lost."""
    lg = large.leg("S", 2, 0, 14.0)  # −206.6 kWh
    end, low = lg.integrate(np.array([350.0, 100.0]))
    assert end[0] == 350.0 and low[0] <= 350.0
    assert end[1] == pytest.approx(100.0 + 206.6214, abs=1e-3)
    up = large.leg("S", 0, 1, 9.0)
    end, low = up.integrate(200.0)
    assert float(end) == pytest.approx(200.0 - up.energy_kwh, abs=1e-9) and float(low) == pytest.approx(float(end))


def test_pieces_cross_boundary(large: LegModel) -> None:
    """11:30 departure crosses 12:00 inside zone 2: that piece is split and continues at evening speed."""
    lg = large.leg("S", 0, 1, 11.5)
    assert len(lg.pieces) == 4
    t_cross = 11.5 + lg.pieces[:2, 1].sum()
    assert t_cross == pytest.approx(12.0, abs=1e-12)
    assert lg.speeds_kmh.tolist() == pytest.approx([50 * 0.75, 50 * 0.85, 50 * 0.55, 50 * 0.9])


@pytest.mark.parametrize(("phi", "a", "b", "expect"), [(1.0, 0, 2, 421.999947), (1.0, 0, 1, 41.2),
                                                      (1.0, 1, 2, 60.586389), (0.1, 0, 1, 5.2)])
def test_prototype_preset(phi: float, a: int, b: int, expect: float) -> None:
    """§3.2 test values (type S)."""
    c = load_mess_case("mess-large")
    c.config["physics"]["model"] = "prototype"
    c.config["physics"]["prototype_phi"] = phi
    lg = leg(c, "S", a, b, 9.0)
    assert lg.energy_kwh == pytest.approx(expect, abs=1e-6)
    # closed form of §3.2, written out here independently
    d, gr = float(c.arc(a, b)["length_km"]), float(c.arc(a, b)["grade_pct"])
    assert lg.energy_kwh == pytest.approx(phi * 1.0 * d + 1.2 + 50000 * 9.8 * math.sin(gr / 100) / 3600 * d,
                                          rel=1e-12)


def test_mess_tiny_steps_and_buckets() -> None:
    """Appendix C: a 10 km leg is 1 step (30 min) and 1 bucket (20 kWh); 20 km is 1 step and 2 buckets."""
    c = load_mess_case("mess-tiny")
    m = LegModel(c)
    l10, l20 = m.leg("T", 0, 1, 7.0), m.leg("T", 0, 2, 7.0)
    assert l10.duration_h == 0.25 and l10.energy_kwh == 20.0
    assert l20.duration_h == 0.5 and l20.energy_kwh == 40.0


def test_bad_leg() -> None:
    c = load_mess_case("mess-tiny")
    with pytest.raises(CaseError, match="no arc 0→9"):
        leg(c, "T", 0, 9, 7.0)
    with pytest.raises(CaseError, match="unknown truck type"):
        leg(c, "Z", 0, 1, 7.0)


def test_cache_identical_to_direct(large: LegModel) -> None:
    """The segment cache returns legs bitwise identical to a fresh computation (all arcs × types × 5-min grid)."""
    fresh = LegModel(large.case)
    deps = 5 + np.arange(229) / 12
    for typ in ("S", "L15"):
        for (a, b) in list(large.arcs)[::3]:
            for d in deps:
                x, y = large.leg(typ, a, b, d), fresh._leg(typ, a, b, d)
                assert np.array_equal(x.pieces, y.pieces) and x.feasible_from_full == y.feasible_from_full


def test_level_map() -> None:
    """mess-tiny: 10 km leg = 20 kWh = 1 bucket down; infeasible from level 0 (soc_min 0 → q_min 0)."""
    c = load_mess_case("mess-tiny")
    lg = LegModel(c).leg("T", 0, 1, 7.0)
    qm = lg.level_map(20.0, 0, 6)
    assert qm.tolist() == [-1, 0, 1, 2, 3, 4]
    big = load_mess_case("mess-large")
    down = LegModel(big).leg("S", 2, 0, 14.0)  # −206.6 kWh, capped at soc_max
    qm = down.level_map(3.5, 5, 101)
    assert qm[100] == 100 and qm[5] == int(np.floor((17.5 + 206.6214) / 3.5))
