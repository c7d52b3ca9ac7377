"""OPF result tables, plot, result folder and the ``tenflow opf`` command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import tenflow.opf as opf
from _opf_cases import symmetrica_with_charging
from tenflow.cli.main import main
from tenflow.results.opf_results import opf_tables, write_opf_results


@pytest.fixture(scope="module")
def res() -> opf.OPFResult:
    return opf.solve(symmetrica_with_charging(K=57), steps=np.arange(0, 57, 4))


def test_tables_balance_power_at_every_step(res):
    t = opf_tables(res)
    s = t["steps"]
    # generation + fixed injections = loads + line losses (energy balance, omtepf.md §6.1 losses)
    assert (s.p_gen + s.p_fixed_inj).to_numpy() == pytest.approx((s.p_load + s.p_loss).to_numpy(), abs=1e-8)
    assert (s.p_loss > 0).all()
    assert t["generators"].groupby("step").p.sum().to_numpy() == pytest.approx(s.p_gen.to_numpy())
    assert t["loads"].groupby("step").p.sum().to_numpy() == pytest.approx(s.p_load.to_numpy())
    # load power is G |V|^2 (eq. 52-54)
    b = t["buses"].set_index(["step", "bus"])
    ld = t["loads"].join(b.vm, on=["step", "bus"])
    assert ld.p.to_numpy() == pytest.approx((ld.G * ld.vm**2).to_numpy(), rel=1e-10)
    assert len(t["buses"]) == len(res.steps) * 26 and len(t["lines"]) == len(res.steps) * 25
    assert s.objective.sum() == pytest.approx(res.objective)


def test_write_results_folder_csv_and_parquet(res, tmp_path):
    out = write_opf_results(res, tmp_path / "r", fmt="parquet")
    for name in ("buses", "lines", "loads", "generators", "steps"):
        df = pd.read_parquet(out / f"{name}.parquet")
        assert len(df) > 0
    assert (out / "opf.png").stat().st_size > 10_000
    run = json.loads((out / "run.json").read_text())
    assert run["method"] == "ccp" and run["objective"] == pytest.approx(res.objective)
    assert run["kcl_residual"] < 1e-8 and "versions" in run
    write_opf_results(res, tmp_path / "r", fmt="csv")  # replaces the folder atomically
    assert not (tmp_path / "r" / "buses.parquet").exists()
    assert pd.read_csv(tmp_path / "r" / "buses.csv").lmp.notna().all()


def test_cli_opf_writes_results_and_reports_errors(tmp_path, capsys):
    assert main(["opf", "symmetrica-lite", "--out", str(tmp_path / "o"), "--steps", "0:6"]) == 0
    steps = pd.read_csv(tmp_path / "o" / "steps.csv")
    assert list(steps.step) == [0, 1, 2, 3, 4, 5]
    assert "objective" in capsys.readouterr().out
    assert main(["opf", "no-such-case", "--out", str(tmp_path / "x")]) == 2
    assert "neither a case folder nor a built-in case" in capsys.readouterr().err
    assert main(["opf", "symmetrica-lite", "--out", str(tmp_path / "x"), "--steps", "80"]) == 2
    assert not (tmp_path / "x").exists()
