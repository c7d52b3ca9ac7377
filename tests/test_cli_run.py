"""``tenflow run`` command line (report folder, options, errors, progress silence under pytest)."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

import tenflow.cases
from omtepf_reference import reference_schedule, scan_generator_voltage, solve_grid
from tenflow.cli import run_cmd
from tenflow.cli.main import main


@pytest.fixture()
def stub_pipeline(monkeypatch):  # type: ignore[no-untyped-def]
    """Replace the optimisation pipeline by the spec reference schedule (evaluation/report path only)."""
    case = tenflow.cases.load("symmetrica-lite")
    s = reference_schedule(case)
    unc = solve_grid(case, s, scan_generator_voltage(case, s))
    calls: list[tuple[str, dict]] = []

    def fake(case, mode, *, time_limit=None, gap=None):  # type: ignore[no-untyped-def]
        calls.append((mode, {"time_limit": time_limit, "gap": gap}))
        out = copy.deepcopy(unc)
        out.mode = mode
        out.info = {"solver": "stub", "gap": gap}
        return out

    monkeypatch.setattr(run_cmd, "solve_mode", fake)
    return calls


def test_run_both_modes_writes_report(stub_pipeline, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "demo"
    rc = main(["run", "symmetrica-lite", "--mode", "both", "--out", str(out), "--time-limit", "30", "--gap", "0.001"])
    assert rc == 0
    assert stub_pipeline == [("uncoordinated", {"time_limit": 30.0, "gap": 0.001}),
                             ("coordinated", {"time_limit": 30.0, "gap": 0.001})]
    text = capsys.readouterr().out
    assert "improvement: 0.00 %" in text and "report written" in text
    t8 = pd.read_csv(out / "table_viii.csv").set_index("item")
    assert list(t8.columns) == ["uncoordinated", "coordinated"]
    run = json.loads((out / "run.json").read_text())
    assert run["command"].startswith("tenflow run symmetrica-lite --mode both")
    assert set(run["timings_s"]) >= {"load", "solve_uncoordinated", "solve_coordinated"}
    assert (out / "fig9_congestion.png").exists()


def test_run_single_mode_from_path(stub_pipeline, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "r"
    rc = main(["run", str(tenflow.cases.path("symmetrica-lite")), "--mode", "uncoordinated", "--out", str(out)])
    assert rc == 0
    assert [c[0] for c in stub_pipeline] == ["uncoordinated"]
    assert pd.read_csv(out / "table_x.csv").columns.tolist() == ["metric [%]", "uncoordinated"]


def test_run_errors(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    rc = main(["run", "no-such-case", "--out", str(tmp_path / "x")])
    assert rc == 2  # CaseError
    assert "no-such-case" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert main(["run", "symmetrica-lite", "--out", str(tmp_path / "x"), "--gap", "2"]) == 2
    assert main(["run", "symmetrica-lite", "--out", str(tmp_path / "x"), "--mode", "bogus"]) == 2
    assert main(["run", "symmetrica-lite"]) == 2  # --out is required


def test_run_flags_invariant_violations(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    case = tenflow.cases.load("symmetrica-lite")
    bad = reference_schedule(case)
    bad.idle = bad.idle.iloc[1:]
    monkeypatch.setattr(run_cmd, "solve_mode", lambda c, m, **kw: bad)
    rc = main(["run", "symmetrica-lite", "--mode", "uncoordinated", "--out", str(tmp_path / "r")])
    assert rc == run_cmd.EXIT_INFEASIBLE_RESULT
    assert not pd.read_csv(tmp_path / "r" / "violations.csv").empty


def test_run_stopped_above_gap_target_exits_4(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A time limit that stops the coordinated solve above its gap target still writes the report (feasible
    plan, warm-started) and exits 4, as `tenflow mess run` does (mess.md §8)."""
    rc = main(["run", "symmetrica-lite", "--mode", "coordinated", "--out", str(tmp_path / "r"),
               "--time-limit", "2", "--gap", "1e-7"])
    assert rc == run_cmd.EXIT_GAP_NOT_REACHED == 4
    summary = pd.read_csv(tmp_path / "r" / "summary.csv")
    assert len(summary) >= 1 and (tmp_path / "r" / "report.md").exists()
