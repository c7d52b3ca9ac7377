"""Electricity prices (mess.md §5, Appendix A)."""

from __future__ import annotations

import sys
import types

import numpy as np
import pandas as pd
import pytest

from tenflow.errors import CaseError, TenflowError
from tenflow.mess.case import load_mess_case
from tenflow.mess.prices import (
    APPENDIX_A,
    OpfPriceProvider,
    PriceProvider,
    PrototypePriceProvider,
    TablePriceProvider,
    da_cents,
    depot_prices,
    lmp_to_hourly,
    node_prices,
    price_table,
)


@pytest.fixture(scope="module")
def large():  # type: ignore[no-untyped-def]
    return load_mess_case("mess-large")


def test_prototype_values(large) -> None:  # type: ignore[no-untyped-def]
    """§5.2 test values (DA 27, ΔRT on, ¢/kWh)."""
    p = price_table(large).set_index(["bus", "hour"])["price_per_kwh"] * 100
    assert p[("6", 8)] == pytest.approx(43.712374, abs=1e-6)
    assert p[("10", 8)] == pytest.approx(43.931065, abs=1e-6)
    assert p[("11", 8)] == pytest.approx(43.012613, abs=1e-6)
    assert p[("6", 18)] == pytest.approx(43.753846, abs=1e-6)
    assert p[("10", 18)] == pytest.approx(43.998967, abs=1e-6)
    assert p[("11", 18)] == pytest.approx(43.013249, abs=1e-6)
    assert p[("6", 0)] == pytest.approx(36.444828, abs=1e-6)
    assert len(p) == 3 * 24


def test_appendix_a_consistent() -> None:
    """Transcription check: mult = 1 + α·dev and loss = 1 + 0.05·α (Appendix A), ΔRT = 0.01·Σloss + 0.01."""
    a = APPENDIX_A
    for b in ("6", "10"):
        assert np.allclose(a[f"mult_{b}"], 1 + a[f"alpha_{b}"] * a[f"dev_{b}"], atol=2e-6)
        assert np.allclose(a[f"loss_{b}"], 1 + 0.05 * a[f"alpha_{b}"], atol=1e-6)
    assert np.allclose(a["delta_rt"], 0.01 * a["sum_loss_mw"] + 0.01, atol=1e-6)
    assert set(a["tariff"]) == {8, 15} and list(a.index) == list(range(24))


def test_seeded_da() -> None:
    da = da_cents(seed=12345)
    assert da[:5] == pytest.approx([22.0920, 23.7017, 32.3526, 30.1726, 25.0400], abs=5e-5)
    assert np.array_equal(da, da_cents(seed=12345))
    assert np.all((da >= 18) & (da <= 36))


def test_da_series_and_rt_off(large) -> None:  # type: ignore[no-untyped-def]
    c = large.copy()
    c.config["prices"]["prototype"]["da_series_cents"] = [10.0] * 24
    c.config["prices"]["prototype"]["include_rt"] = False
    p = price_table(c).set_index(["bus", "hour"])["price_per_kwh"] * 100
    a = APPENDIX_A.loc[8]
    assert p[("6", 8)] == pytest.approx(10 * a["mult_6"] + a["loss_6"] + a["tariff"], rel=1e-14)
    assert p[("11", 8)] == pytest.approx(10 + 1 + 15, rel=1e-14)


def test_table_source_and_depot() -> None:
    c = load_mess_case("mess-tiny")
    t = price_table(c)
    assert list(t.columns) == ["bus", "hour", "price_per_kwh"]
    assert t["price_per_kwh"].tolist() == [0.3] * 8 + [0.5] * 16
    assert np.all(depot_prices(c) == 0.2)
    np_ = node_prices(c, [7.0, 7.5, 8.0, 10.5])
    assert np_.loc[1].tolist() == [0.3, 0.3, 0.5, 0.5]
    assert np_.loc[0].tolist() == [0.2] * 4


def test_depot_price_bus(large) -> None:  # type: ignore[no-untyped-def]
    c = large.copy()
    c.config["depot"]["price_flat"] = None
    c.config["depot"]["price_bus"] = "11"
    assert depot_prices(c)[8] * 100 == pytest.approx(43.012613, abs=1e-6)


def test_table_missing_hour() -> None:
    prov = TablePriceProvider(pd.DataFrame({"bus": ["b1"], "hour": [0], "price_per_kwh": [0.1]}))
    with pytest.raises(CaseError, match="no price for hour 1"):
        prov.prices(["b1"], [0, 1])


def test_prototype_unknown_bus() -> None:
    with pytest.raises(CaseError, match="bus 7"):
        PrototypePriceProvider().prices(["7"], [0])


def test_protocol() -> None:
    assert isinstance(PrototypePriceProvider(), PriceProvider)
    assert isinstance(OpfPriceProvider("x"), PriceProvider)


def test_lmp_conversion() -> None:
    """$ per p.u. power per step → $/kWh: divide by S_base·1000·Δt_h; 2-hour steps cover 2 hours each."""
    raw = pd.DataFrame({"bus": [6, 6], "step": ["s0", "s1"], "lmp": [200.0, 400.0]})
    out = lmp_to_hourly(raw, s_base_mva=10.0, step_hours=2.0)
    assert out["hour"].tolist() == [0, 1, 2, 3]
    assert out["price_per_kwh"].tolist() == pytest.approx([0.01, 0.01, 0.02, 0.02])


def test_opf_provider_with_fake_module(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fake = types.ModuleType("tenflow.opf")

    class Grid:
        base = {"s_mva": 1.0}

    fake.load_grid = lambda name: Grid()  # type: ignore[attr-defined]
    fake.bus_prices = lambda grid: pd.DataFrame(  # type: ignore[attr-defined]
        {"bus": np.repeat([6, 10], 24), "step": np.tile(np.arange(24), 2), "lmp": np.arange(48.0) * 1000})
    monkeypatch.setitem(sys.modules, "tenflow.opf", fake)
    import tenflow

    monkeypatch.setattr(tenflow, "opf", fake, raising=False)
    prov = OpfPriceProvider("any")
    p = prov.prices(["10"], [0, 23])
    assert p["price_per_kwh"].tolist() == pytest.approx([24.0, 47.0])


def test_opf_provider_missing_module(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "tenflow.opf", None)
    with pytest.raises(TenflowError, match="tenflow.opf"):
        OpfPriceProvider("x").prices(["6"], [0])


def test_lmp_conversion_subhourly() -> None:
    """Quarter-hour steps: the hourly price is the mean of the four step prices, each lmp/(S_base·1000·0.25)."""
    lmp = np.arange(96.0)
    raw = pd.DataFrame({"bus": ["x"] * 96, "step": np.arange(96), "lmp": lmp})
    out = lmp_to_hourly(raw, s_base_mva=2.0, step_hours=0.25)
    assert len(out) == 24
    expect = lmp.reshape(24, 4).mean(axis=1) / (2.0 * 1000 * 0.25)
    assert out["price_per_kwh"].to_numpy() == pytest.approx(expect, rel=1e-14)


@pytest.mark.slow
def test_opf_provider_real_cigre() -> None:
    """End to end with tenflow's IV-ACOPF on the CIGRE MV feeder (buses 6, 10, 11 of the prototype)."""
    opf = pytest.importorskip("tenflow.opf")
    pytest.importorskip("pandapower")
    if not hasattr(opf, "bus_prices"):
        pytest.skip("tenflow.opf.bus_prices not available")
    c = load_mess_case("mess-large")
    c.config["prices"]["source"] = "opf"
    c.config["prices"]["opf"]["grid_case"] = "cigre-mv"
    t = price_table(c)
    assert len(t) == 3 * 24 and np.isfinite(t["price_per_kwh"]).all()
    assert (t["price_per_kwh"] > 0).all()
