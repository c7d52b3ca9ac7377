"""Bad cases: every folder under tests/data/bad_cases/ breaks one thing of the valid ``_base`` case.

The folder holds the replaced files and ``expect.toml`` (file, row, field, reason substring). Loading must
raise :class:`tenflow.CaseError` (never a pandas/numpy exception) with an issue naming exactly those.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

import tenflow
from tenflow.case import load_case
from tenflow.cli.main import cli

BAD = Path(__file__).parent / "data" / "bad_cases"
CASES = sorted(p.name for p in BAD.iterdir() if p.is_dir() and not p.name.startswith("_"))


def materialise(name: str, tmp: Path) -> tuple[Path, dict]:
    folder = tmp / name
    shutil.copytree(BAD / "_base", folder)
    expect = tomllib.loads((BAD / name / "expect.toml").read_text())
    for f in expect.get("remove", []):
        (folder / f).unlink()
    for f in (BAD / name).iterdir():
        if f.name != "expect.toml":
            shutil.copy(f, folder / f.name)
    return folder, expect


def test_base_is_valid() -> None:
    case = load_case(BAD / "_base")
    assert case.K == 10
    tenflow.build_nets(case, "pruned")


def test_there_are_enough_bad_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("name", CASES)
def test_bad_case(name: str, tmp_path: Path) -> None:
    folder, expect = materialise(name, tmp_path)
    with pytest.raises(tenflow.CaseError) as ei:
        load_case(folder)
    issues = ei.value.issues
    match = [
        i for i in issues
        if i.file == expect["file"]
        and ("row" not in expect or i.row == expect["row"])
        and ("field" not in expect or i.field == expect["field"])
        and expect["contains"] in i.reason
    ]
    assert match, f"no issue matches {expect}; got:\n{ei.value}"
    # the message names the file (and row/field when expected)
    msg = str(ei.value)
    assert expect["file"] in msg and expect["contains"] in msg
    if "row" in expect:
        assert f"row {expect['row']}" in msg


@pytest.mark.parametrize("name", ["itinerary_unreachable", "non_numeric_cell", "grid_island"])
def test_cli_validate_reports(name: str, tmp_path: Path) -> None:
    folder, expect = materialise(name, tmp_path)
    res = CliRunner().invoke(cli, ["case", "validate", str(folder)])
    assert res.exit_code != 0
    assert isinstance(res.exception, tenflow.CaseError)
    assert expect["contains"] in str(res.exception)
