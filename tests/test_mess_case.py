"""MESS case format (mess.md §2.1–§2.3, Appendix C): loading, defaults, round trip, built-ins."""

from __future__ import annotations

import filecmp
import math
from pathlib import Path

import pytest

from tenflow.errors import CaseError
from tenflow.mess.case import BUILTIN_DIR, format_hhmm, load_mess_case, parse_hhmm, parse_zone_km

BUILTINS = ["mess-tiny", "mess-tiny-2", "mess-small", "mess-large"]


def _available(name: str) -> bool:
    return (BUILTIN_DIR / name / "case.toml").is_file()


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_round_trip_exact(name: str, tmp_path: Path) -> None:
    if not _available(name):
        pytest.skip(f"{name} not shipped yet")
    case = load_mess_case(name)
    case.save(tmp_path / "c")
    again = load_mess_case(tmp_path / "c")
    assert again == case
    # canonical form: saving the shipped case reproduces its files byte for byte
    shipped = sorted(p.name for p in (BUILTIN_DIR / name).iterdir())
    written = sorted(p.name for p in (tmp_path / "c").iterdir())
    assert shipped == written
    for f in shipped:
        assert filecmp.cmp(BUILTIN_DIR / name / f, tmp_path / "c" / f, shallow=False), f


def test_equality_detects_changes() -> None:
    a = load_mess_case("mess-tiny")
    b = a.copy()
    assert a == b
    b.arcs.loc[0, "length_km"] = 11.0
    assert a != b
    c = a.copy()
    c.config["costs"]["toll_per_km"] = 0.3
    assert a != c


def test_mess_tiny_matches_appendix_c() -> None:
    c = load_mess_case("mess-tiny")
    cfg = c.config
    assert c.name == "mess-tiny"
    assert (cfg["time"]["start"], cfg["time"]["end"], cfg["time"]["step_min"]) == (7.0, 11.0, 30)
    assert cfg["time"]["demand_step_min"] == 30 and cfg["soc"]["bucket"] == 0.2
    assert cfg["traffic"]["model"] == "none" and cfg["physics"]["model"] == "prototype"
    assert cfg["physics"]["prototype_phi"] == 1.0
    assert cfg["depot"] == {"node": 0, "s_dep": 0.6, "charger_kw": 80.0, "plugs": 0, "efficiency": 1.0,
                            "price_flat": 0.2, "price_bus": None}
    assert cfg["costs"]["toll_per_km"] == 0.2 and cfg["costs"]["maintenance_per_km"] == 0.21
    assert cfg["costs"]["service_min"] == 30.0
    assert cfg["excavators"]["policy"] == "direct"
    assert cfg["battery"]["model"] == "generalized" and cfg["battery"]["cost_usd"] == 20000.0
    assert cfg["battery"]["s_ref"] == 1.0
    arcs = {(a, b): d for a, b, d in zip(c.arcs["from"], c.arcs["to"], c.arcs["length_km"], strict=True)}
    assert arcs == {(0, 1): 10, (1, 0): 10, (1, 2): 10, (2, 1): 10, (0, 2): 20, (2, 0): 20}
    assert (c.arcs["grade_pct"] == 0).all()
    ch = c.chargers.iloc[0]
    assert (ch["node"], ch["bus"], ch["power_kw"], ch["plugs"], ch["efficiency"]) == (1, "b1", 80.0, 0, 1.0)
    pr = c.prices.set_index("hour")["price_per_kwh"]
    assert all(pr[h] == 0.30 for h in range(8)) and all(pr[h] == 0.50 for h in range(8, 24))
    tt = c.truck_types()
    assert len(tt) == 1
    t = tt.iloc[0]
    assert t["type"] == "T" and t["ids"] == [1, 2] and t["count"] == 2
    assert (t["mess_kwh"], t["speed_kmh"], t["wage_per_h"], t["soc_min"], t["soc_max"]) == (100, 40, 20, 0, 1)
    assert (t["avail_start"], t["avail_end"], t["flat_kwh_per_km"], t["aux_kwh_per_leg"]) == (7.0, 11.0, 2.0, 0.0)
    s = c.sites.iloc[0]
    assert (s["node"], s["mess_kwh"], s["soc_init"], s["reserve_soc"], s["idle_kw"]) == (2, 100, 0.8, 0.2, 0)
    assert (s["window_start"], s["window_end"], s["work_start"], s["work_end"]) == (7, 11, 7, 11)
    assert c.excavators["consumption_kwh_per_h"].tolist() == [30.0]


def test_mess_tiny_2_matches_appendix_c() -> None:
    c = load_mess_case("mess-tiny-2")
    assert (c.config["time"]["start"], c.config["time"]["end"]) == (7.0, 12.0)
    arcs = {(a, b): d for a, b, d in zip(c.arcs["from"], c.arcs["to"], c.arcs["length_km"], strict=True)}
    assert arcs[(1, 3)] == arcs[(3, 1)] == 10 and arcs[(0, 3)] == arcs[(3, 0)] == 30
    assert len(arcs) == 10
    s = c.sites.set_index("node")
    assert s.loc[3, "soc_init"] == 1.0 and s.loc[3, "mess_kwh"] == 100
    assert (s["window_end"] == 12.0).all() and (s["work_end"] == 11.0).all()
    t = c.truck_types().iloc[0]
    assert t["ids"] == [1, 2, 3] and t["avail_end"] == 12.0


def test_times() -> None:
    assert parse_hhmm("07:30") == 7.5 and parse_hhmm("24:00") == 24.0 and parse_hhmm("0:05") == 5 / 60
    for bad in ("24:30", "7.5", "07:60", "ab"):
        with pytest.raises(ValueError):
            parse_hhmm(bad)
    assert format_hhmm(14 + 5 / 60) == "14:05" and format_hhmm(24.0) == "24:00"


def test_zone_km() -> None:
    assert parse_zone_km("1:2;2:19;3:19", 40, 1) == [(1, 2.0), (2, 19.0), (3, 19.0)]
    assert parse_zone_km("", 7.5, 3) == [(3, 7.5)]
    with pytest.raises(ValueError):
        parse_zone_km("1-2", 2, 1)


def test_defaults_filled(tmp_path: Path) -> None:
    c = load_mess_case("mess-tiny")
    # drop optional columns from the CSVs: defaults are filled in
    c.save(tmp_path / "c")
    (tmp_path / "c" / "sites.csv").write_text(
        "node,name,mess_kwh,soc_init,window_start,window_end,work_start,work_end\n2,S,100,0.8,07:00,11:00,07:00,11:00\n"
    )
    (tmp_path / "c" / "trucks.csv").write_text(
        "type,count,mess_kwh,speed_kmh,mass_kg,wage_per_h,soc_min,flat_kwh_per_km\nT,2,100,40,50000,20,0,2\n"
    )
    d = load_mess_case(tmp_path / "c")
    s = d.sites.iloc[0]
    assert s["reserve_soc"] == 0.2 and s["end_soc_min"] == 0.2 and s["idle_kw"] == 2.0
    t = d.truck_types().iloc[0]
    assert t["ids"] == ["T-1", "T-2"] and t["count"] == 2
    assert (t["avail_start"], t["avail_end"]) == (7.0, 11.0)
    assert math.isinf(t["max_charge_kw"]) and t["crr"] == 0.006 and t["eta_regen"] == 0.6


def test_unknown_key_and_column(tmp_path: Path) -> None:
    c = load_mess_case("mess-tiny")
    c.save(tmp_path / "c")
    toml = (tmp_path / "c" / "case.toml").read_text()
    (tmp_path / "c" / "case.toml").write_text(toml.replace("step_min = 30\n", "step_min = 30\nstepmin = 5\n", 1))
    with pytest.raises(CaseError) as ei:
        load_mess_case(tmp_path / "c")
    assert "stepmin" in str(ei.value)
    (tmp_path / "c" / "case.toml").write_text(toml)
    arcs = (tmp_path / "c" / "arcs.csv").read_text().replace("free_speed_kmh", "free_speed")
    (tmp_path / "c" / "arcs.csv").write_text(arcs)
    with pytest.raises(CaseError) as ei:
        load_mess_case(tmp_path / "c")
    assert "free_speed" in str(ei.value) and "arcs.csv" in str(ei.value)


def test_unknown_case_name() -> None:
    with pytest.raises(CaseError) as ei:
        load_mess_case("mess-nonexistent")
    assert "mess-tiny" in str(ei.value)


def test_docs_up_to_date() -> None:
    from tenflow.mess.tables import case_format_markdown

    doc = Path(__file__).resolve().parents[1] / "docs" / "mess-case-format.md"
    assert doc.is_file()
    assert doc.read_text(encoding="utf-8") == case_format_markdown()


@pytest.mark.parametrize("name", ["mess-tiny", "mess-large"])
def test_json_round_trip(name: str, tmp_path: Path) -> None:
    """§2.1 JSON form: case → case.json → case is exact; convert both ways reproduces the folder bytes."""
    import json

    from tenflow.mess.case import convert

    case = load_mess_case(name)
    j = case.save(tmp_path / "case.json")
    doc = json.loads(j.read_text())
    assert doc["case"]["kind"] == "mess" and "nodes" in doc["tables"]
    assert load_mess_case(j) == case
    convert(j, tmp_path / "back")
    for f in (BUILTIN_DIR / name).iterdir():
        assert filecmp.cmp(f, tmp_path / "back" / f.name, shallow=False), f.name


def test_json_errors(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(CaseError, match="bad.json"):
        load_mess_case(p)
    doc = load_mess_case("mess-tiny").to_json()
    doc["tables"]["nodez"] = []
    import json

    p.write_text(json.dumps(doc))
    with pytest.raises(CaseError, match="unknown table 'nodez'"):
        load_mess_case(p)
