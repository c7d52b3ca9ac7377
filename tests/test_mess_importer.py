"""Importer of the prototype workbooks (mess.md §2.4–§2.6): byte-identical built-ins, errors, warnings."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import pytest

from tenflow.errors import CaseError
from tenflow.mess.case import BUILTIN_DIR, load_mess_case
from tenflow.mess.importer import FILES, import_xlsx, norm_header

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mess"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"prototype workbooks not found at {DATA}")


@needs_data
@pytest.mark.parametrize("scale", ["small", "large"])
def test_import_reproduces_builtin_bytes(scale: str, tmp_path: Path) -> None:
    """§9.1: importing the workbooks reproduces the shipped case byte for byte."""
    case = import_xlsx(DATA, scale)
    out = case.save(tmp_path / scale)
    shipped = BUILTIN_DIR / f"mess-{scale}"
    names = sorted(p.name for p in shipped.iterdir())
    assert names == sorted(p.name for p in out.iterdir())
    for n in names:
        assert filecmp.cmp(shipped / n, out / n, shallow=False), n
    assert case == load_mess_case(f"mess-{scale}")


@needs_data
def test_large_content_matches_spec() -> None:
    """§2.5 facts: nodes, 53 arcs with the listed km/grades, sites, speed factors, fleet and calibrated crr."""
    c = import_xlsx(DATA, "large")
    assert len(c.nodes) == 16 and len(c.arcs) == 53
    assert c.nodes.set_index("id").loc[3, "name"] == "Charging site 2"
    roles = c.nodes.groupby("role")["id"].apply(list).to_dict()
    assert roles == {"depot": [0], "charger": [1, 3, 7, 10, 13], "site": [2, 4, 5, 6, 8, 9, 11, 12, 14, 15]}
    arcs = {(a, b): (d, g) for a, b, d, g in zip(c.arcs["from"], c.arcs["to"], c.arcs["length_km"],
                                                 c.arcs["grade_pct"], strict=True)}
    spec = ("0→1 40/0, 0→2 40/7, 0→3 50/0, 0→4 60/7, 0→5 55/10, 0→6 40/5, 1→0 40/0, 1→2 5/8, 1→6 10/0, "
            "2→0 40/−7, 2→1 5/−8, 3→0 50/0, 3→4 15/−8, 3→5 5/4, 4→0 60/−7, 4→3 15/8, 5→0 55/−10, 5→3 5/−4, "
            "6→0 40/−5, 6→1 10/0, 0→7 40/4, 0→8 45/5, 0→9 45/6, 0→10 30/7, 0→11 35/8, 0→12 40/3, 0→13 40/6, "
            "0→14 40/4, 0→15 50/8, 7→0 45/−4, 7→8 5/3, 7→9 5/5, 8→0 45/−5, 8→7 5/−3, 9→0 45/−6, 9→7 5/−5, "
            "10→0 40/−7, 10→11 13/7, 10→12 5/6, 10→15 23/0, 11→0 47/−8, 11→10 6/−7, 11→13 10/0, 12→0 35/−3, "
            "12→10 5/−6, 13→0 32/−6, 13→11 10/0, 13→14 26/−2, 13→15 5/−3, 14→0 40/−4, 14→13 10/2, 15→0 47/−8, "
            "15→13 5/3")
    expect = {}
    for item in spec.split(", "):
        ab, dg = item.split(" ")
        a, b = ab.split("→")
        d, g = dg.replace("−", "-").split("/")
        expect[(int(a), int(b))] = (float(d), float(g))
    assert arcs == expect
    z = c.arcs.set_index(["from", "to"])["zone_km"]
    assert z[(0, 1)] == "1:2;2:19;3:19" and z[(1, 2)] == "1:2;2:1.5;3:1.5" and z[(10, 11)] == "1:2;2:5.5;3:5.5"
    s = c.sites
    assert s["node"].tolist() == [2, 4, 5, 6, 8, 9, 11, 12, 14, 15]
    assert (s["mess_kwh"] == 350).all() and (s["soc_init"] == 1.0).all()
    assert (s["window_start"] == 7).all() and (s["window_end"] == 19).all()
    assert (s["work_start"] == 7).all() and (s["work_end"] == 18).all()
    ex = c.excavators
    assert len(ex) == 20 and set(ex["battery_kwh"]) == {250.0}
    assert ex["consumption_kwh_per_h"].tolist()[:2] == [50.0, 40.0]
    sf = c.speed_factors.set_index(["zone", "segment"])["factor"]
    assert sf[(1, "Morning Peak")] == 0.75 and sf[(2, "Evening Peak")] == 0.55 and sf[(3, "Evening Peak")] == 0.9
    tt = c.truck_types().set_index("type")
    assert list(tt.index) == ["S", "M", "L", "L15"]
    assert tt.loc["S", "ids"] == [1, 2, 9, 10, 17, 18] and tt.loc["L", "ids"] == [5, 13, 21]
    assert tt.loc["L15", "ids"] == [6, 7, 8, 14, 15, 16, 22, 23, 24]
    assert tt["crr"].round(6).tolist() == [0.004793, 0.005018, 0.005204, 0.008507]
    assert tt["wage_per_h"].tolist() == [18, 19, 20, 20] and (tt["aux_kwh_per_leg"] == 1.2).all()
    ch = c.chargers.set_index("node")["bus"].to_dict()
    assert ch == {1: "6", 3: "6", 7: "10", 10: "10", 13: "11"}
    cfg = c.config
    assert cfg["depot"]["charger_kw"] == 500 and cfg["depot"]["price_flat"] == 0.2 and cfg["depot"]["s_dep"] == 0.9
    assert cfg["traffic"]["segments"] == [{"name": "Morning Peak", "start": 7.0, "end": 12.0}]
    assert cfg["traffic"]["default_segment"] == "Evening Peak"


@needs_data
def test_small_content() -> None:
    c = import_xlsx(DATA, "small")
    assert len(c.nodes) == 7 and len(c.arcs) == 20
    assert c.chargers.set_index("node")["bus"].to_dict() == {1: "6", 3: "10"}
    assert c.sites["node"].tolist() == [2, 4, 5, 6]
    assert not [w for w in c.warnings if w.code == "W-ASYM"]


@needs_data
def test_warnings_large() -> None:
    c = import_xlsx(DATA, "large")
    by = {w.code: w.reason for w in c.warnings}
    assert set(by) == {"W-GRADE-MISSING", "W-ASYM", "W-GRADE-LOOP"}
    for arc in ("10→15", "11→13", "13→11"):
        assert arc in by["W-GRADE-MISSING"]
    for pair in ("0↔7 40/45", "0↔10 30/40", "0↔11 35/47", "0↔12 40/35", "0↔13 40/32", "0↔15 50/47",
                 "10↔11 13/6", "13↔14 26/10", "10→15 = 23 but 15→10 missing"):
        assert pair in by["W-ASYM"]
    # the loop with the largest net descent: 0→3 (0) + 3→4 (−1.2 km) + 4→0 (−4.2 km) = −5.4 km
    assert "0→3→4→0 descends 5.4 km" in by["W-GRADE-LOOP"]


def test_norm_header() -> None:
    assert norm_header("Consumption\n (KWh per KM)") == norm_header("consumption (kwh per km)")
    assert norm_header("Node ") == "node"


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "wb"
    shutil.copytree(DATA, dst)
    return dst


@needs_data
def test_missing_column(tmp_path: Path) -> None:
    import openpyxl

    d = _copy(tmp_path)
    f = d / FILES["large"]["terrain"]
    wb = openpyxl.load_workbook(f)
    wb["Sheet1"]["C1"] = "Slope"
    wb.save(f)
    with pytest.raises(CaseError) as ei:
        import_xlsx(d, "large")
    msg = str(ei.value)
    assert "Road Terrain information_large scale.xlsx" in msg and "Gradient (%)" in msg and "missing" in msg


@needs_data
def test_missing_sheet(tmp_path: Path) -> None:
    import openpyxl

    d = _copy(tmp_path)
    f = d / FILES["small"]["vehicles"]
    wb = openpyxl.load_workbook(f)
    wb["Sheet1"].title = "Vehicles"
    wb.save(f)
    with pytest.raises(CaseError) as ei:
        import_xlsx(d, "small")
    assert "Vehicle datset.xlsx" in str(ei.value) and "Sheet1" in str(ei.value)


@needs_data
def test_missing_file_and_bad_cell(tmp_path: Path) -> None:
    import openpyxl

    d = _copy(tmp_path)
    (d / FILES["small"]["traffic"]).unlink()
    with pytest.raises(CaseError, match="Traffic Data.xlsx"):
        import_xlsx(d, "small")
    d2 = _copy(tmp_path / "b")
    f = d2 / FILES["small"]["demand"]
    wb = openpyxl.load_workbook(f)
    wb["Sheet1"]["C3"] = "lots"
    wb.save(f)
    with pytest.raises(CaseError) as ei:
        import_xlsx(d2, "small")
    assert "row 2" in str(ei.value) and "Requirement of KWH" in str(ei.value)


@needs_data
def test_lock_files_ignored_and_bad_scale(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    (d / "~$Traffic Data.xlsx").write_bytes(b"not an xlsx")
    assert import_xlsx(d, "small") == load_mess_case("mess-small")
    with pytest.raises(CaseError, match="scale"):
        import_xlsx(d, "medium")
