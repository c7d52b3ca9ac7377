"""Atomic result writing: a failure never leaves a half-written file or folder behind."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from tenflow.results.io import atomic_dir, atomic_write_text, provenance, write_json, write_table


def test_write_table_csv_and_parquet_round_trip(tmp_path: Path) -> None:
    df = pd.DataFrame({"bus": ["1", "2"], "k": [0, 1], "lmp": [0.1, 0.25]})
    pd.testing.assert_frame_equal(pd.read_csv(write_table(df, tmp_path / "t"), dtype={"bus": str}), df)
    pd.testing.assert_frame_equal(pd.read_parquet(write_table(df, tmp_path / "t", "parquet")), df)


def test_failed_write_keeps_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "t.parquet"
    write_table(pd.DataFrame({"a": [1]}), target, "parquet")
    before = target.read_bytes()
    with pytest.raises(Exception):  # noqa: B017 - pyarrow raises its own error type
        write_table(pd.DataFrame({"a": [object()]}), target, "parquet")
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]


def test_atomic_dir_replaces_only_on_success(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with atomic_dir(out) as d:
        atomic_write_text(d / "a.txt", "first\n")
    with pytest.raises(RuntimeError), atomic_dir(out) as d:
        atomic_write_text(d / "a.txt", "second\n")
        raise RuntimeError("solver crashed mid-write")
    assert (out / "a.txt").read_text() == "first\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_provenance_records_versions(tmp_path: Path) -> None:
    rec = provenance(case="symmetrica-lite", seed=0)
    write_json(tmp_path / "run.json", rec)
    back = json.loads((tmp_path / "run.json").read_text())
    assert back["case"] == "symmetrica-lite" and back["seed"] == 0
    assert {"python", "numpy", "highspy", "clarabel"} <= set(back["versions"])


def test_results_get_the_usual_permissions(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    try:
        with atomic_dir(tmp_path / "run") as d:
            atomic_write_text(d / "report.md", "x\n")
        assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == 0o755
        assert stat.S_IMODE((tmp_path / "run" / "report.md").stat().st_mode) == 0o644
    finally:
        os.umask(mask)
