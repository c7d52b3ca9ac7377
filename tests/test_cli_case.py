"""CLI: tenflow cases / case show / case validate / net (click CliRunner: plain output, no TTY)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io
from click.testing import CliRunner

import tenflow
from tenflow.cli.main import cli, main


def run(*args: str) -> str:
    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_cases_lists_builtin() -> None:
    out = run("cases")
    assert "symmetrica-lite" in out and "omtepf" in out


def test_case_show_counts_and_net_sizes() -> None:
    out = run("case", "show", "symmetrica-lite")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:] if line.strip()}
    assert rows["buffers"] == ["26"] and rows["evs"] == ["32"] and rows["lines"] == ["25"]
    assert rows["places"] == ["884", "884"]
    assert rows["transitions"] == ["4040", "3080"]
    assert "2944" in out and "45856" in out
    assert "\x1b[" not in out  # plain text when not a terminal


def test_case_show_by_path(tmp_path: Path) -> None:
    tenflow.cases.load("symmetrica-lite").save(tmp_path / "c")
    out = run("case", "show", str(tmp_path / "c"))
    assert "884" in out


def test_case_validate_ok() -> None:
    out = run("case", "validate", str(tenflow.cases.path("symmetrica-lite")))
    assert out.startswith("OK")


def test_validate_exit_code_via_main(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    c = tmp_path / "c"
    tenflow.cases.load("symmetrica-lite").save(c)
    (c / "roads.csv").write_text((c / "roads.csv").read_text().replace("R5,16,19", "R5,16,99"))
    assert main(["case", "validate", str(c)]) == 2
    err = capsys.readouterr().err
    assert "roads.csv row 5 field 'b': unknown buffer '99'" in err
    assert main(["case", "validate", str(tmp_path / "nope")]) == 2


def test_net_export_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "net"
    run("net", "symmetrica-lite", "--out", str(out))
    nets = tenflow.build_nets(tenflow.cases.load("symmetrica-lite"), "full")
    Mp = scipy.io.mmread(str(out / "M_plus.mtx")).tocsr()
    Mm = scipy.io.mmread(str(out / "M_minus.mtx")).tocsr()
    D = scipy.io.mmread(str(out / "D_minus.mtx")).tocsr()
    assert Mp.shape == (884, 4040) and (Mp != nets.M_plus).nnz == 0
    assert np.allclose(Mm.toarray(), nets.M_minus.toarray(), rtol=0, atol=1e-15)
    assert (D != nets.D_minus).nnz == 0
    places = pd.read_csv(out / "places.csv", dtype=str)
    trans = pd.read_csv(out / "transitions.csv", dtype={"ev": str, "origin": str, "dest": str, "bus": str})
    assert len(places) == 884 and len(trans) == 4040
    assert list(trans["block"].value_counts().sort_index()) == [800, 136, 3104]  # C, E, T
    assert len(pd.read_csv(out / "operand_transitions.csv")) == 96
    s = json.loads((out / "summary.json").read_text())
    assert s["summary"]["transitions"] == 4040
    # re-export replaces the folder atomically; pruned adds firings
    run("net", "symmetrica-lite", "--out", str(out), "--form", "pruned")
    assert len(pd.read_csv(out / "firings.csv")) == 45856
    assert scipy.io.mmread(str(out / "M_plus.mtx")).shape == (884, 3080)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
