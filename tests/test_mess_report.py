"""MESS result tables and report (mess.md §6.6, §7) on the hand-built mess-tiny optimum."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.test_mess_evaluate import tiny_optimum

from tenflow.mess.case import load_mess_case
from tenflow.mess.evaluate import evaluate
from tenflow.mess.report import (
    MethodRun,
    case_hash,
    charging_table,
    comparison_table,
    legs_table,
    report_markdown,
    site_soc_table,
    trips_table,
    truck_soc_table,
    write_results,
)


@pytest.fixture(scope="module")
def tiny_ev():  # type: ignore[no-untyped-def]
    case = load_mess_case("mess-tiny")
    plan = tiny_optimum()
    plan.method = "optimized"
    return case, evaluate(case, plan)


def test_trips_table(tiny_ev) -> None:  # type: ignore[no-untyped-def]
    _, ev = tiny_ev
    t = trips_table(ev)
    assert t["start"].tolist() == ["07:30", "07:00"]
    assert t["arrival"].tolist() == ["08:30", "09:00"]
    assert t["swap_end"].tolist() == ["09:00", "09:30"]
    assert t["end"].tolist() == ["11:00", "11:00"]
    assert t["soc_delivered"].tolist() == [0.6, 0.8]
    assert t["total"].sum() + ev.breakdown["wear_sites"] == pytest.approx(ev.total)


def test_legs_and_charging(tiny_ev) -> None:  # type: ignore[no-untyped-def]
    _, ev = tiny_ev
    lg = legs_table(ev)
    assert len(lg) == 6 and lg["km"].sum() == 80.0
    assert lg["kwh"].sum() == pytest.approx(160.0)
    ch = charging_table(ev)
    assert len(ch) == 7
    # both trucks charge at the depot in step 7 -> plugs 1 and 2; all other steps plug 1
    both = ch[(ch["charger"] == "depot") & (ch["step_start"] == 7)]
    assert sorted(both["plug"]) == [1, 2]
    assert ch["cost"].sum() == pytest.approx(ev.breakdown["energy"] + ev.breakdown["charging"])
    enr = ch[ch["charger"] != "depot"]
    assert enr["bus"].tolist() == ["b1", "b1"] and enr["price_per_kwh"].tolist() == [0.5, 0.5]


def test_soc_tables(tiny_ev) -> None:  # type: ignore[no-untyped-def]
    _, ev = tiny_ev
    ss = site_soc_table(ev)
    assert ss["pack"].tolist() == ["initial"] * 4 + ["trip 0"] + ["trip 1"] * 4
    ts = truck_soc_table(ev)
    assert len(ts) == 2 + 7 + 8
    assert ts.groupby("trip")["soc"].first().tolist() == [0.6, 0.6]


def test_comparison_and_report(tiny_ev) -> None:  # type: ignore[no-untyped-def]
    case, ev = tiny_ev
    runs = [MethodRun("optimized", "optimal", evaluation=ev, objective=260.716919, lb=260.716919, gap=0.0),
            MethodRun("nearest", "infeasible", reason="site 2: no route")]
    comp = comparison_table(runs)
    assert comp.loc[0, "total"] == pytest.approx(260.716919, abs=1e-6)
    assert comp.loc[0, "km"] == 80.0 and comp.loc[0, "kwh_delivered"] == 140.0
    assert comp.loc[0, "cost_per_kwh_delivered"] == pytest.approx(ev.total / 140.0)
    assert np.isnan(comp.loc[1, "total"])
    md = report_markdown(case, runs, comp, model="generalized", plots=[], options={})
    lines = md.splitlines()
    assert lines[2].startswith("| method | status | total $")
    assert "| optimized | optimal | 260.72 |" in md
    assert "`nearest`: infeasible — site 2: no route (excluded from the cost comparison)" in md


def test_write_results_parquet(tiny_ev, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    case, ev = tiny_ev
    runs = [MethodRun("optimized", "optimal", evaluation=ev, objective=ev.total, lb=ev.total, gap=0.0)]
    out = write_results(tmp_path / "r", case, runs, model="generalized", fmt="parquet", plots=False)
    t = pd.read_parquet(out / "optimized" / "trips.parquet")
    assert len(t) == 2
    assert (out / "report.md").read_text().startswith("# MESS plan — mess-tiny")


def test_case_hash() -> None:
    a = load_mess_case("mess-tiny")
    b = a.copy()
    assert case_hash(a) == case_hash(b)
    b.arcs.loc[0, "length_km"] = 11.0
    assert case_hash(a) != case_hash(b)


def test_pack_trajectories_follow_swaps(tiny_ev) -> None:  # type: ignore[no-untyped-def]
    """Packs change hands at swaps: truck 1's pack is installed at 09:00, the initial site pack rides back on
    truck 1; truck 2's pack is installed at 09:30 and stays until the horizon end (80 kWh − 30 kWh/h·1.5 h)."""
    from tenflow.mess.report import ex_post_table, pack_trajectories

    _, ev = tiny_ev
    tr = pack_trajectories(ev)
    assert sorted(tr) == ["site-2", "truck-1", "truck-2"]  # 2 truck packs + 1 site pack, conserved
    t, s = tr["truck-2"]
    assert t[-1] == 11.0 and s[-1] == pytest.approx(0.35)
    t, s = tr["site-2"]
    assert t[0] == 7.0 and s[0] == pytest.approx(0.8)
    assert (t[-1], s[-1]) == (11.0, pytest.approx(0.6))  # back at the depot on truck 1, charged to q_dep
    xp = ex_post_table(ev)
    assert set(xp["pack"]) == {"site-2", "truck-1", "truck-2"}
    assert (xp["rainflow_cost"] >= 0).all()
