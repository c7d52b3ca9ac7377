"""Report folder of the OMTEPF study (tables CSV/Markdown, Parquet itineraries, PNG figures, report.md, run.json)."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

import tenflow.cases
from omtepf_reference import reference_schedule, scan_generator_voltage, solve_grid
from tenflow.results.omtepf_eval import evaluate
from tenflow.results.omtepf_report import to_markdown, write_report


@pytest.fixture(scope="module")
def case():  # type: ignore[no-untyped-def]
    return tenflow.cases.load("symmetrica-lite")


@pytest.fixture(scope="module")
def sols(case):  # type: ignore[no-untyped-def]
    s = reference_schedule(case)
    unc = solve_grid(case, s, scan_generator_voltage(case, s))
    unc.info = {"solver": "scan", "timings": {"total": 0.5}, "sizes": {"binaries": 0}}
    # a second plan: same EV schedule, generator at 1.1 throughout (worse: V18 not optimised at k = 3)
    other = solve_grid(case, s, 1.1)
    other = copy.deepcopy(other)
    other.mode = "coordinated"
    other.info = {"solver": "fixed-voltage", "gap": 0.0}
    return unc, other


def test_report_folder_contents(case, sols, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "rep"
    write_report(case, list(sols), out)
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    for n in ("report.md", "run.json", "table_viii.csv", "table_viii.md", "table_ix.csv", "table_ix.md",
              "table_x.csv", "table_x.md", "timeseries.csv", "summary.csv", "violations.csv",
              "fig8_power.png", "fig9_congestion.png"):
        assert n in names, n
    for mode in ("uncoordinated", "coordinated"):
        for n in ("itinerary", "firings", "idle", "soc", "voltages", "gen_currents"):
            assert f"{mode}/{n}.parquet" in names
    # PNGs are real images
    for png in ("fig8_power.png", "fig9_congestion.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # tables read back; Table VIII totals are column sums; improvement row present
    t8 = pd.read_csv(out / "table_viii.csv").set_index("item")
    ev_u, ev_c = evaluate(case, sols[0]), evaluate(case, sols[1])
    assert t8.loc["Total", "uncoordinated"] == pytest.approx(ev_u.total)
    items = t8.index[:6]
    assert t8.loc[items, "coordinated"].sum() == pytest.approx(t8.loc["Total", "coordinated"])
    imp = (ev_u.total - ev_c.total) / abs(ev_u.total) * 100
    assert t8.loc["Improvement over uncoordinated [%]", "coordinated"] == pytest.approx(imp)
    assert imp < 0  # the fixed-voltage plan is worse than the scanned optimum
    t10 = pd.read_csv(out / "table_x.csv").set_index("metric [%]")
    assert t10["uncoordinated"].round(2).tolist() == [99.12, 10.53, 85.09, 12.37]
    # per-EV per-step itinerary: 32 EVs x 57 steps, SoC at each step start
    it = pd.read_parquet(out / "uncoordinated" / "itinerary.parquet")
    assert len(it) == 32 * 57 and it["state"].notna().all()
    assert set(it["state"]) == {"park", "road", "inductive", "home", "com", "queue"}
    assert it["soc"].between(0, 18).all()
    assert (it.loc[it["state"] == "queue", "k"] == 40).all()
    # report.md references figures and tables; run.json has provenance and solver info
    md = (out / "report.md").read_text()
    assert "fig8_power.png" in md and "fig9_congestion.png" in md and "Table VIII" in md
    assert "All invariants hold" in md and "fixed-voltage" in md
    run = json.loads((out / "run.json").read_text())
    assert run["case"] == "symmetrica-lite" and run["modes"] == ["uncoordinated", "coordinated"]
    assert "versions" in run and run["solver"]["uncoordinated"]["solver"] == "scan"
    assert pd.read_csv(out / "violations.csv").empty


def test_report_lists_violations_and_is_atomic(case, sols, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "rep"
    bad = copy.deepcopy(sols[0])
    bad.idle = bad.idle.iloc[1:]
    write_report(case, [bad], out)
    v = pd.read_csv(out / "violations.csv")
    assert set(v["check"]) == {"one_state", "continuity"}
    assert "violation(s)" in (out / "report.md").read_text()
    # a failing write leaves the previous folder untouched
    broken = copy.deepcopy(sols[0])
    broken.firings = broken.firings.assign(component="nope")
    with pytest.raises(Exception, match="nope"):
        write_report(case, [broken], out)
    assert (out / "report.md").exists() and "violation(s)" in (out / "report.md").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]


def test_to_markdown_escapes_and_formats() -> None:
    df = pd.DataFrame({"a|b": [1.23456, float("nan")], "c": ["x|y", "z"]}, index=pd.Index(["r1", "r2"], name="i"))
    md = to_markdown(df, floatfmt=".2f")
    assert md.splitlines() == ["| i | a\\|b | c |", "|---|---|---|", "| r1 | 1.23 | x\\|y |", "| r2 |  | z |"]
