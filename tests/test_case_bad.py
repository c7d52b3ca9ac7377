"""Bad cases: every folder under tests/data/bad_cases/ breaks one thing of the valid ``_base`` case.

The folder holds the replaced files and ``expect.toml`` (file, row, field, reason substring). Loading must
raise :class:`tenflow.CaseError` (never a pandas/numpy exception) with an issue naming exactly those.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

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


_FILES = sorted(p.name for p in (BAD / "_base").iterdir() if p.suffix == ".csv")
_TOKENS = ["", "nan", "-1", "abc", "1e309", "inf", "0", "17", "E1", "true", "3.5", "99999999999999999999", "1;2",
           "home", "all", '"', "R1"]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(_FILES), st.integers(0, 60), st.integers(0, 12), st.sampled_from(_TOKENS),
       st.booleans())
def test_fuzz_one_cell_never_crashes(fname: str, row: int, col: int, token: str, drop_row: bool) -> None:
    """Replacing any one cell (or dropping a row) gives a valid case or a CaseError, never another exception."""
    with TemporaryDirectory() as d:
        folder = Path(d) / "c"
        shutil.copytree(BAD / "_base", folder)
        lines = (folder / fname).read_text().splitlines()
        r = row % len(lines)
        if drop_row and r > 0:
            del lines[r]
        else:
            cells = lines[r].split(",")
            cells[col % len(cells)] = token
            lines[r] = ",".join(cells)
        (folder / fname).write_text("\n".join(lines) + "\n")
        try:
            case = load_case(folder)
        except tenflow.CaseError as exc:
            assert exc.issues and all(i.file for i in exc.issues if i.row is not None)
            return
        tenflow.build_nets(case, "pruned")  # a case that loads must also build
