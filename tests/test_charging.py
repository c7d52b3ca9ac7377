"""Charging block: Table V synchronisation ratios, wireless semantics A/B, v2g, SoC net, KCL current maps
(omtepf.md §2.1, §2.2, §3.4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omtepf_spec_case import U, spec_case, v2g_tiny_case
from tenflow.formulations import charging as CH
from tenflow.formulations import transport as TR
from tenflow.solve import Program, solve_highs


def _by_kind(fleet: TR.Fleet) -> pd.DataFrame:
    return fleet.caps.groupby("kind")[["charge", "discharge", "rate", "current_re", "current_im", "revenue"]].first()


def test_table_v_ratios_semantics_a() -> None:
    """Semantics A (default): road -2; wireless charge 2 and discharge 2 (net 0); home +1; commercial +2.
    Currents 0.04 u / 0.08 u / 0.08 u (pf 0.9); revenue c_C x charge units (c_C = 0.025)."""
    k = _by_kind(TR.build_fleet(spec_case()))
    assert k.loc["road", ["charge", "discharge", "rate"]].tolist() == [0, 2, -2]
    assert k.loc["inductive", ["charge", "discharge", "rate"]].tolist() == [2, 2, 0]
    assert k.loc["home", ["charge", "rate"]].tolist() == [1, 1]
    assert k.loc["com", ["charge", "rate"]].tolist() == [2, 2]
    for kind, mag in (("home", 0.04), ("com", 0.08), ("inductive", 0.08)):
        assert complex(k.loc[kind, "current_re"], k.loc[kind, "current_im"]) == pytest.approx(mag * U, abs=1e-12)
        assert k.loc[kind, "revenue"] == pytest.approx(0.025 * k.loc[kind, "charge"])
    assert k.loc["road", "current_re"] == 0 and k.loc["park", "rate"] == 0


def test_wireless_semantics_b_is_charge_only() -> None:
    """Option wireless_net_soc = 2 (semantics B, Table V literally): a wireless traversal nets +2."""
    k = _by_kind(TR.build_fleet(spec_case(options={"wireless_net_soc": 2})))
    assert k.loc["inductive", ["charge", "discharge", "rate"]].tolist() == [2, 0, 2]


def test_wireless_current_drawn_at_origin_bus() -> None:
    """§2.2: the current of a wireless traversal is drawn at the origin of the arc."""
    fleet = TR.build_fleet(spec_case())
    c = fleet.caps[fleet.caps["kind"] == "inductive"]
    assert (c["bus"].to_numpy() == c["origin"].to_numpy()).all()  # buffer ids = bus ids, same order
    assert set(fleet.bus_ids[c["bus"]]) == {"17", "20", "22", "24", "26"}


def test_v2g_injects_and_discharges() -> None:
    """v2g: rate = -units, drawn current = -current (injection), objective gain (price - c_C) per unit."""
    fleet = TR.build_fleet(v2g_tiny_case(0.3))
    v = fleet.caps[fleet.caps["kind"] == "v2g"].iloc[0]
    assert v["rate"] == -1 and v["discharge"] == 1 and v["charge"] == 0
    assert v["current_re"] == pytest.approx(-0.04 * U.real) and v["current_im"] == pytest.approx(-0.04 * U.imag)
    assert v["revenue"] == pytest.approx(0.3 - 0.025)


def test_soc_dynamics_match_hand_computation() -> None:
    """SoC rows reproduce SOC[k+1] = SOC[k] + sum rate x for a hand-made plan (brute force over 1 EV)."""
    c = v2g_tiny_case(0.0, n_ev=1)
    fleet = TR.build_fleet(c)
    fs = TR.firing_set(fleet, 0, fleet.K)
    p = Program("soc")
    tv = TR.add_transport(p, fleet, fs)
    CH.add_soc(p, tv, soc_end=fleet.soc_final)
    s = solve_highs(p)
    assert s.status == "optimal"
    f = TR.decode_firings(fleet, fs, s["x"])
    soc = np.r_[10.0, 10.0 + np.cumsum(f.sort_values("k")["rate"].to_numpy())]
    np.testing.assert_allclose(s["soc"], soc)
    assert soc.min() >= 0 and soc[-1] == 10


def test_current_matrices_equal_firing_table_sums() -> None:
    """The KCL maps (M^-_EC) and the per-firing table give the same bus currents."""
    c = spec_case()
    fleet = TR.build_fleet(c)
    fs = TR.firing_set(fleet, 0, fleet.K)
    rng = np.random.default_rng(1)
    x = (rng.random(fs.n_x) < 0.05).astype(float)
    Jr, Ji = CH.current_matrices(fleet, fs, np.arange(fleet.K))
    J = (Jr @ x + 1j * (Ji @ x)).reshape(fleet.K, len(fleet.bus_ids))
    f = TR.decode_firings(fleet, fs, x)
    np.testing.assert_allclose(J, CH.currents_of_firings(fleet, f, fleet.K), atol=1e-12)
