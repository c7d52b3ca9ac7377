"""Case data model: loading, exact round trip, the built-in symmetrica-lite case against omtepf.md §4."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tenflow
from tenflow.case import Case, load_case
from tenflow.cases import make_symmetrica_lite


@pytest.fixture(scope="module")
def sym() -> Case:
    return tenflow.cases.load("symmetrica-lite")


def test_builtin_listed_and_loaded(sym: Case) -> None:
    assert "symmetrica-lite" in tenflow.cases.list()
    assert isinstance(sym, Case)
    assert sym.K == 57


def test_round_trip_exact(sym: Case, tmp_path: Path) -> None:
    sym.save(tmp_path / "c")
    again = load_case(tmp_path / "c")
    assert again == sym, again.diff(sym)
    # and the files themselves are a fixed point of save
    again.save(tmp_path / "d")
    for f in sorted((tmp_path / "c").iterdir()):
        assert f.read_bytes() == (tmp_path / "d" / f.name).read_bytes(), f.name


def test_shipped_files_equal_generator(sym: Case, tmp_path: Path) -> None:
    """The shipped package data is exactly what make_symmetrica_lite writes."""
    make_symmetrica_lite.build().save(tmp_path / "gen")
    shipped = tenflow.cases.path("symmetrica-lite")
    names = sorted(p.name for p in shipped.iterdir())
    assert names == sorted(p.name for p in (tmp_path / "gen").iterdir())
    for n in names:
        assert (shipped / n).read_bytes() == (tmp_path / "gen" / n).read_bytes(), n


def test_equality_detects_change(sym: Case) -> None:
    other = sym.copy()
    assert other == sym
    other.lines.loc[3, "g"] += 1e-12
    assert other != sym
    other = sym.copy()
    other.costs["c_Q"] = 0.06
    assert other != sym


def test_counts_section_1_2(sym: Case) -> None:
    c = sym.counts()
    assert c["buffers"] == 26 and c["roads"] == 40 and c["parking"] == 17 and c["lines"] == 25
    assert c["generators"] == 1 and c["variable_generators"] == 17 and c["loads"] == 25 and c["evs"] == 32
    assert c["buses"] == 26
    assert (sym.chargers["type"] == "home").sum() == 16 and (sym.chargers["type"] == "commercial").sum() == 1
    assert int(sym.chargers.loc[sym.chargers["type"] == "commercial", "plugs"].iat[0]) == 10
    assert int(sym.parking.loc[sym.parking["buffer"] == "17", "capacity"].iat[0]) == 32


def test_topology_5x5_grid(sym: Case) -> None:
    """§4.1: the 40 roads are exactly the unit edges of the 5x5 grid of the coordinates of §4.2."""
    xy = {r.id: (r.x, r.y) for r in sym.buffers.itertuples() if not math.isnan(r.x)}
    assert len(xy) == 25
    for r in sym.roads.itertuples():
        (xa, ya), (xb, yb) = xy[r.a], xy[r.b]
        assert abs(xa - xb) + abs(ya - yb) == 1.0
    pairs = {frozenset((r.a, r.b)) for r in sym.roads.itertuples()}
    assert len(pairs) == 40  # all distinct; a 5x5 grid has 2*5*4 = 40 edges
    spokes = sym.roads[sym.roads["charge_mode"] == "inductive"]
    assert sorted(spokes["id"]) == ["R10", "R11", "R30", "R31"]
    assert all("17" in (a, b) for a, b in zip(spokes["a"], spokes["b"], strict=True))
    assert (spokes["capacity"] == 4).all() and (sym.roads.loc[sym.roads["charge_mode"] == "none", "capacity"] == 3).all()
    u = 0.9 - 1j * math.sqrt(1 - 0.81)
    cur = spokes["current_re"].to_numpy() + 1j * spokes["current_im"].to_numpy()
    np.testing.assert_allclose(cur, 0.08 * u, rtol=0, atol=1e-15)
    assert abs(u.imag + 0.43589) < 1e-5


def test_distance_to_17(sym: Case) -> None:
    """§4.1 evidence: distances 2 (4 edge-middles), 3 (8), 4 (4 corners), sum 48."""
    from tenflow.case.derived import shortest_steps

    d = shortest_steps(sym)
    dist = np.array([d.loc[str(n), "17"] for n in range(1, 17)])
    assert sorted(dist.tolist()) == [2] * 4 + [3] * 8 + [4] * 4
    assert dist.sum() == 48


def test_profiles_match_hourly_samples(sym: Case) -> None:
    """§4.5 table of hourly samples (values rounded as printed there)."""
    table = {  # k: (sigma, G_house, G_office, G_inters)
        0: (0.000, 0.0340, 0.043, 0.013), 4: (0.091, 0.0426, 0.043, 0.013), 8: (0.273, 0.0599, 0.213, 0.013),
        12: (0.455, 0.0602, 0.213, 0.013), 16: (0.636, 0.0775, 0.213, 0.013), 20: (0.818, 0.0947, 0.213, 0.013),
        24: (1.0, 0.1120, 0.213, 0.013), 32: (1.0, 0.1120, 0.213, 0.013), 40: (1.0, 0.1120, 0.213, 0.013),
        44: (0.714, 0.1109, 0.213, 0.013), 48: (0.429, 0.0837, 0.043, 0.013), 52: (0.143, 0.0566, 0.043, 0.013),
        56: (0.000, 0.0430, 0.043, 0.013),
    }
    p = sym.profiles.set_index("k")
    for k, (s, gh, go, gi) in table.items():
        assert p.loc[k, "solar"] == pytest.approx(s, abs=6e-4)
        assert p.loc[k, "house"] == pytest.approx(gh, abs=6e-5)
        assert p.loc[k, "office"] == pytest.approx(go, abs=1e-12)
        assert p.loc[k, "inters"] == pytest.approx(gi, abs=1e-12)
    assert p["solar"].sum() == pytest.approx(34.0, abs=1e-12)


def test_load_admittance_and_pv(sym: Case) -> None:
    G, B = sym.load_admittance()
    assert G.shape == (57, 25)
    np.testing.assert_allclose(B / np.where(G == 0, 1, G), -0.48432, atol=1e-5)  # tan(acos 0.9)
    cur = sym.pv_current()
    assert cur.shape == (57, 17)
    assert cur[30, 0] == pytest.approx(0.12 * (0.9 - 0.43589j), abs=1e-5)
    assert np.all(cur[:3] == 0)


def test_lines_radial_tree_rooted_at_18(sym: Case) -> None:
    """§4.3: 25 lines on 26 buses form a tree; every line points away from bus 18 (BFS from 18)."""
    ln = sym.lines
    assert len(ln) == 25 and len(set(ln["to"])) == 25 and "18" not in set(ln["to"])
    lead = ln[ln["id"] == "L16"].iloc[0]
    assert (lead["from"], lead["to"], lead["g"], lead["b"]) == ("18", "3", 0.0, -1111.1)
    parent = dict(zip(ln["to"], ln["from"], strict=True))
    for bus in sym.bus_ids:
        seen = 0
        while bus != "18":
            bus = parent[bus]
            seen += 1
            assert seen < 30


def test_itineraries(sym: Case) -> None:
    it = sym.itineraries
    assert len(it) == 32 * 5
    ev5 = it[it["ev"] == "5"].sort_values("seq")
    assert list(ev5["k_from"]) == [0, 1, 8, 40, 48] and list(ev5["k_to"]) == [0, 7, 39, 47, 56]
    assert list(ev5["buffer"]) == ["3", "17", "17", "3", "3"]
    assert list(ev5["charge"]) == [False, True, True, True, True]
    homes = sym.evs.set_index("id")["home"]
    assert all(homes[str(v)] == str(math.ceil(v / 2)) for v in range(1, 33))


def test_build_fills_inherited_defaults() -> None:
    case = Case.build(
        {"name": "t", "K": 3},
        costs={"c_T": 0.07},
        buffers=pd.DataFrame({"id": ["a", "b"]}),
        roads=pd.DataFrame({"id": ["r"], "a": ["a"], "b": ["b"], "capacity": [1]}),
        parking=pd.DataFrame({"id": ["p"], "buffer": ["a"], "capacity": [1]}),
        evs=pd.DataFrame({"id": ["e"], "home": ["a"]}),
    )
    assert case.roads["cost"].tolist() == [0.07]
    assert case.roads["depletion"].tolist() == [2.0]
    assert list(case.profiles.columns) == ["k"] and len(case.profiles) == 3


def test_tables_equal_independent_spec_build(sym: Case) -> None:
    """Cross-check against the OMTEPF engineer's independent build from the spec's numbers (if present)."""
    spec = pytest.importorskip("omtepf_spec_case", reason="independent spec build not available")
    other = spec.spec_case()
    for name in ("roads", "lines", "parking", "chargers", "loads", "variable_generators", "evs", "profiles"):
        a, b = sym.table(name), other.table(name)
        assert a.equals(b), f"{name} differs:\n{a.compare(b) if a.shape == b.shape else (a.shape, b.shape)}"
    assert sym.options == other.options and sym.costs == other.costs
