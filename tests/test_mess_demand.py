"""Site demand (mess.md §3.4): spec test values and an independent exact-arithmetic simulation."""

from __future__ import annotations

from fractions import Fraction as Fr

import numpy as np
import pytest

from tenflow.errors import CaseError
from tenflow.mess.case import load_mess_case
from tenflow.mess.demand import site_demand


@pytest.fixture(scope="module")
def case():  # type: ignore[no-untyped-def]
    return load_mess_case("mess-large")


def test_threshold_values(case) -> None:  # type: ignore[no-untyped-def]
    d = site_demand(case, 2)
    t = np.array([10.0, 11.0, 12.0, 14.0, 14.25, 16.0, 18.0])
    assert d.D(t) == pytest.approx([6.0, 50.0, 136.5, 266.5, 309.0, 439.0, 653.5], abs=1e-9)
    assert d.excavator_soc.iloc[-1].to_numpy() == pytest.approx([0.33, 0.26], abs=1e-12)
    # before work and after work: constant
    assert d.D(np.array([5.0, 7.0, 20.0])) == pytest.approx([0.0, 0.0, 653.5])


def test_full_pack_lasts(case) -> None:  # type: ignore[no-untyped-def]
    """A full 350 kWh pack with reserve 70 kWh lasts until 14.079412 h (14:04:46); latest 5-min grid 14:00."""
    d = site_demand(case, 2)
    t = d.depletion_time(350.0, 5.0, 70.0)
    assert t == pytest.approx(14.079412, abs=1e-6)
    assert np.floor(t * 12 + 1e-9) / 12 == 14.0
    assert float(d.D(t)) == pytest.approx(280.0, abs=1e-9)


def test_direct(case) -> None:  # type: ignore[no-untyped-def]
    d = site_demand(case, 2, policy="direct")
    assert d.total_kwh == pytest.approx(990.0)
    t = d.depletion_time(350.0, 5.0, 70.0)
    assert t == pytest.approx(10 + 400 / 3600, abs=1e-9)  # 10:06:40


def _exact_threshold(b, c, p, idle, trig, targ, dt, n):  # type: ignore[no-untyped-def]
    """Independent re-implementation of the §3.4 rule in exact rational SoC arithmetic (scalar loops)."""
    s = [Fr(1)] * len(b)
    out = []
    for _ in range(n):
        tot = Fr(0)
        for e in range(len(b)):
            s[e] = max(Fr(0), s[e] - c[e] * dt / b[e])
            if s[e] <= trig:
                en = min((targ - s[e]) * b[e], p * dt)
                s[e] = min(targ, s[e] + en / b[e])
                tot += en
        out.append(tot if tot > 0 else idle * dt)
    return out, s


def test_threshold_against_exact(case) -> None:  # type: ignore[no-untyped-def]
    d = site_demand(case, 4)
    steps, soc = _exact_threshold([Fr(250), Fr(250)], [Fr(50), Fr(40)], Fr(170), Fr(2), Fr(1, 5), Fr(9, 10),
                                  Fr(1, 4), 44)
    assert d.step_kwh == pytest.approx([float(x) for x in steps], abs=1e-9)
    assert d.excavator_soc.iloc[-1].to_numpy() == pytest.approx([float(x) for x in soc], abs=1e-12)


def test_power_and_inverse(case) -> None:  # type: ignore[no-untyped-def]
    d = site_demand(case, 2)
    ts = np.linspace(7.0, 18.0, 4401)
    # D is the integral of the power: compare with a trapezoid integral on a fine grid
    p = d.power_kw(ts[:-1] + 1e-9)
    assert np.cumsum(p * np.diff(ts))[-1] == pytest.approx(653.5, rel=1e-9)
    x = np.array([0.0, 6.0, 100.0, 653.5, 700.0])
    t = d.time_reaching(x)
    assert t[-1] == np.inf
    assert d.D(t[:-1]) == pytest.approx(x[:-1], abs=1e-9)


def test_tiny_direct() -> None:
    c = load_mess_case("mess-tiny")
    d = site_demand(c, 2)
    assert d.total_kwh == pytest.approx(120.0)  # 30 kWh/h × 4 h
    # 80 kWh pack, reserve 20 kWh: lasts 2 h
    assert d.depletion_time(80.0, 7.0, 20.0) == pytest.approx(9.0)


def test_unknown_site(case) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CaseError, match="site 3 not in sites.csv"):
        site_demand(case, 3)
