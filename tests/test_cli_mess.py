"""``tenflow mess`` CLI: outputs, exit codes of mess.md §8, bad input, atomic result folders, determinism."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

import tenflow.mess.optimize as optimize_mod
from tenflow.cli.main import main
from tenflow.errors import InfeasibleError
from tenflow.mess.baselines import baseline
from tenflow.mess.case import load_mess_case
from tenflow.mess.evaluate import evaluate

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mess"
CASES = Path(__file__).resolve().parents[1] / "src" / "tenflow" / "cases" / "data"


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "run.json"}


def test_run_baselines_only_and_determinism(tmp_path: Path) -> None:
    args = ["mess", "run", "mess-small", "--degradation", "generalized", "--compare", "nearest,shortest",
            "--no-optimize"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    a = tmp_path / "a"
    for f in ("report.md", "report.html", "comparison.csv", "cost_breakdown.csv", "trips.csv", "legs.csv",
              "charging.csv", "site_soc.csv", "truck_soc.csv", "lmp.csv", "run.json", "nearest/trips.csv",
              "shortest/legs.csv", "plots/route_map_nearest.png", "plots/soc_time_shortest.svg",
              "plots/lmp_heatmap.png", "plots/comparison_bars.png"):
        assert (a / f).is_file(), f
    assert _digest(a) == _digest(tmp_path / "b")  # §9 check 12: identical files except run.json
    lines = (a / "report.md").read_text().splitlines()
    assert lines[0].startswith("# MESS plan — mess-small")
    assert lines[2].startswith("| method | status | total $ | LB $ | gap $ | km | kWh delivered | $/km | $/kWh |")
    comp = pd.read_csv(a / "comparison.csv")
    assert list(comp["method"]) == ["nearest", "shortest"]
    assert (comp["status"] == "feasible").all() and (comp["violations"] == 0).all()
    # totals in the comparison = the evaluator on the written plan's method
    cb = pd.read_csv(a / "cost_breakdown.csv")
    tot = cb[cb["truck"] == "total"].set_index("method")["total"]
    assert tot["nearest"] == pytest.approx(comp.set_index("method").loc["nearest", "total"], abs=1e-6)


def _fake_solve(status: str, offset: float = 0.0, raise_infeasible: bool = False):  # type: ignore[no-untyped-def]
    def solve(case, degradation=None, time_limit=60.0, **kw):  # type: ignore[no-untyped-def]
        if raise_infeasible:
            raise InfeasibleError("fleet too small", ["type T short by 1 truck"])
        plan = baseline(case, "nearest", degradation)
        if status == "no_solution":
            return SimpleNamespace(plan=None, status=status, objective=None, lb=100.0, gap=None, iterations=1,
                                   columns=1, timings={})
        j = evaluate(case, plan, degradation).total + offset
        return SimpleNamespace(plan=plan, status=status, objective=j, lb=j - (5.0 if status == "feasible" else 0),
                               gap=5.0 if status == "feasible" else 0.0, iterations=1, columns=1, timings={})
    return solve


@pytest.mark.parametrize("status,offset,infeasible,code", [
    ("optimal", 0.0, False, 0), ("feasible", 0.0, False, 4), ("no_solution", 0.0, False, 5),
    ("optimal", 0.0, True, 3), ("optimal", 1.0, False, 1)])
def test_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: str, offset: float,
                    infeasible: bool, code: int) -> None:
    monkeypatch.setattr(optimize_mod, "solve", _fake_solve(status, offset, infeasible))
    out = tmp_path / "o"
    rc = main(["mess", "run", "mess-small", "--degradation", "nmc", "--out", str(out), "--no-plots"])
    assert rc == code
    comp = pd.read_csv(out / "comparison.csv")
    assert comp.loc[0, "method"] == "optimized"
    assert comp.loc[0, "status"] == ("infeasible" if infeasible else status)
    if infeasible:
        assert "fleet too small" in (out / "report.md").read_text()


@pytest.mark.parametrize("argv,needle", [
    (["mess", "run", "no-such-case", "--out", "X"], "no-such-case"),
    (["mess", "run", "mess-tiny", "--degradation", "nmcx", "--out", "X"], "unknown degradation model 'nmcx'"),
    (["mess", "run", "mess-tiny", "--step-min", "7", "--out", "X"], "--step-min 7 must divide 60"),
    (["mess", "run", "mess-tiny", "--soc-bucket", "0.3", "--out", "X"], "1/bucket must be an integer"),
    (["mess", "run", "mess-tiny", "--compare", "greedy", "--out", "X"], "unknown baseline 'greedy'"),
])
def test_bad_input_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    argv = [a if a != "X" else str(tmp_path / "x") for a in argv]
    assert main(argv) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mess", "validate", "mess-small"]) == 0
    assert "mess-small: valid" in capsys.readouterr().out
    bad = tmp_path / "bad"
    shutil.copytree(CASES / "mess-tiny", bad)
    arcs = pd.read_csv(bad / "arcs.csv", keep_default_na=False)
    arcs.loc[2, "length_km"] = -5
    arcs.to_csv(bad / "arcs.csv", index=False)
    assert main(["mess", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "arcs.csv" in err and "length_km" in err


def test_atomic_output_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "res"
    args = ["mess", "run", "mess-small", "--compare", "nearest", "--no-optimize", "--out", str(out)]
    assert main([*args, "--no-plots"]) == 0
    before = _digest(out)

    import tenflow.mess.plots as plots

    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full while plotting")

    monkeypatch.setattr(plots, "soc_time", boom)
    with pytest.raises(RuntimeError):
        main(args)
    assert _digest(out) == before  # the previous folder is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]  # no half-written temporary folder left
    # a first write that fails leaves nothing at all
    with pytest.raises(RuntimeError):
        main([*args[:-1], str(tmp_path / "new")])
    assert not (tmp_path / "new").exists()


@pytest.mark.skipif(not DATA.is_dir(), reason=f"prototype workbooks not found at {DATA}")
def test_import_xlsx_equals_builtin(tmp_path: Path) -> None:
    out = tmp_path / "small"
    assert main(["mess", "import-xlsx", str(DATA), "--scale", "small", "--out", str(out)]) == 0
    assert load_mess_case(out) == load_mess_case("mess-small")


def test_import_xlsx_missing_folder(tmp_path: Path) -> None:
    assert main(["mess", "import-xlsx", str(tmp_path / "nothing"), "--scale", "small", "--out",
                 str(tmp_path / "c")]) == 2
    assert not (tmp_path / "c").exists()


def test_compare_summary(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    assert main(["mess", "compare", "mess-small", "--degradation", "generalized", "--compare", "nearest",
                 "--out", str(out), "--no-plots"]) == 0
    s = pd.read_csv(out / "summary.csv")
    assert list(s["method"]) == ["optimized", "nearest"]
    c = pd.read_csv(out / "mess-small-generalized" / "comparison.csv").set_index("method")
    jo, jn = c.loc["optimized", "total"], c.loc["nearest", "total"]
    assert jo <= jn + 1e-6
    assert s.set_index("method").loc["nearest", "savings_pct_vs_method"] == pytest.approx(100 * (jn - jo) / jn)


def test_warmup_and_replay(tmp_path: Path) -> None:
    assert main(["mess", "warmup"]) == 0
    assert main(["mess", "replay-prototype", "mess-small", "--model", "m3", "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "vehicles.csv").is_file() and (tmp_path / "r" / "report.md").is_file()
