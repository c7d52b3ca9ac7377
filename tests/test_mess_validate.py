"""Bad input (mess.md §8): one test per error code, each naming the item; warnings; road graph helpers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenflow.errors import CaseError
from tenflow.mess.case import MessCase, load_mess_case
from tenflow.mess.validate import distance_matrix_km, grade_loop, shortest_path


def _broken(tmp_path: Path, edit: Callable[[MessCase], None], base: str = "mess-tiny") -> CaseError:
    c = load_mess_case(base)
    edit(c)
    c.save(tmp_path / "c")
    with pytest.raises(CaseError) as ei:
        load_mess_case(tmp_path / "c")
    return ei.value


def _one(err: CaseError, code: str) -> str:
    msgs = [str(i) for i in err.issues if i.code == code]
    assert msgs, f"{code} not in {err}"
    return msgs[0]


def test_node_unknown(tmp_path: Path) -> None:
    def edit(c: MessCase) -> None:
        c.arcs.loc[len(c.arcs)] = [2, 17, 5.0, 0.0, "", np.inf]

    msg = _one(_broken(tmp_path, edit), "E-NODE-UNKNOWN")
    assert "arcs.csv row 7" in msg and "node 17 not in nodes.csv" in msg


def test_arc_length(tmp_path: Path) -> None:
    def edit(c: MessCase) -> None:
        c.arcs.loc[2, "length_km"] = -5.0

    msg = _one(_broken(tmp_path, edit), "E-ARC-LENGTH")
    assert "arcs.csv row 3" in msg and "(1→0): length_km = -5 (must be > 0)" in msg


def test_arc_dup(tmp_path: Path) -> None:
    def edit(c: MessCase) -> None:
        c.arcs.loc[len(c.arcs)] = c.arcs.loc[0].tolist()

    msg = _one(_broken(tmp_path, edit), "E-ARC-DUP")
    assert "(0→1)" in msg and "duplicate" in msg


def test_zone_sum(tmp_path: Path) -> None:
    def edit(c: MessCase) -> None:
        c.arcs.loc[0, "zone_km"] = "1:2;2:4;3:3"

    msg = _one(_broken(tmp_path, edit), "E-ZONE-SUM")
    assert "(0→1)" in msg and "9 km" in msg


def test_role(tmp_path: Path) -> None:
    def edit(c: MessCase) -> None:
        c.chargers.loc[0, "node"] = 2

    err = _broken(tmp_path, edit)
    msg = _one(err, "E-ROLE")
    assert "node 2 has role 'site' (must be charger)" in msg


def test_grid(tmp_path: Path) -> None:
    def edit(c: MessCase) -> None:
        c.config["time"]["step_min"] = 7
        c.config["soc"]["bucket"] = 0.3

    err = _broken(tmp_path, edit)
    msgs = [str(i) for i in err.issues if i.code == "E-GRID"]
    assert any("does not divide 60" in m for m in msgs) and any("1/bucket" in m for m in msgs)


def test_window(tmp_path: Path) -> None:
    def edit(c: MessCase) -> None:
        c.sites.loc[0, "window_start"] = 10.0
        c.sites.loc[0, "window_end"] = 8.0
        c.sites.loc[0, "work_end"] = 12.0

    err = _broken(tmp_path, edit)
    msgs = [str(i) for i in err.issues if i.code == "E-WINDOW"]
    assert any("site 2: window 10:00–08:00 empty" in m for m in msgs)
    assert any("work hours 07:00–12:00 outside the horizon 07:00–11:00" in m for m in msgs)


def test_fleet(tmp_path: Path) -> None:
    def edit(c: MessCase) -> None:
        c.sites.loc[0, "mess_kwh"] = 350.0

    msg = _one(_broken(tmp_path, edit), "E-FLEET")
    assert "site 2: no truck type carries a 350 kWh pack" in msg


def test_fleet_types_differ(tmp_path: Path) -> None:
    def edit(c: MessCase) -> None:
        row = c.trucks.loc[0].copy()
        row["ids"] = "7"
        row["count"] = 1
        row["speed_kmh"] = 60.0
        c.trucks.loc[1] = row

    msg = _one(_broken(tmp_path, edit), "E-FLEET")
    assert "type T" in msg and "speed_kmh" in msg


def test_price(tmp_path: Path) -> None:
    def edit(c: MessCase) -> None:
        c.prices = c.prices[c.prices["hour"] != 23].reset_index(drop=True)

    msg = _one(_broken(tmp_path, edit), "E-PRICE")
    assert "charger 1 (bus b1): no price for hour 23" in msg


def test_price_prototype_bus(tmp_path: Path) -> None:
    def edit(c: MessCase) -> None:
        c.config["prices"]["source"] = "prototype"

    msg = _one(_broken(tmp_path, edit), "E-PRICE")
    assert "bus b1" in msg


def test_param(tmp_path: Path) -> None:
    def edit(c: MessCase) -> None:
        c.trucks.loc[0, "soc_min"] = 0.9
        c.trucks.loc[0, "soc_max"] = 0.5

    err = _broken(tmp_path, edit)
    msgs = [str(i) for i in err.issues if i.code == "E-PARAM"]
    assert any("soc_min 0.9 >= soc_max 0.5" in m for m in msgs)
    assert any("s_dep 0.6 > soc_max 0.5" in m for m in msgs)


def test_param_range_schema(tmp_path: Path) -> None:
    def edit(c: MessCase) -> None:
        c.trucks.loc[0, "eta_drive"] = 1.5

    msg = _one(_broken(tmp_path, edit), "E-PARAM")
    assert "trucks.csv row 1" in msg and "eta_drive" in msg


def test_errors_collected(tmp_path: Path) -> None:
    def edit(c: MessCase) -> None:
        c.arcs.loc[2, "length_km"] = -5.0
        c.sites.loc[0, "mess_kwh"] = 350.0
        c.config["time"]["step_min"] = 7

    err = _broken(tmp_path, edit)
    assert {"E-ARC-LENGTH", "E-FLEET", "E-GRID"} <= set(err.codes)


def test_unknown_depot(tmp_path: Path) -> None:
    def edit(c: MessCase) -> None:
        c.config["depot"]["node"] = 9

    msg = _one(_broken(tmp_path, edit), "E-NODE-UNKNOWN")
    assert "depot node 9" in msg


def test_speed_factor_missing(tmp_path: Path) -> None:
    def edit(c: MessCase) -> None:
        c.speed_factors = c.speed_factors[c.speed_factors["zone"] != 2].reset_index(drop=True)

    msg = _one(_broken(tmp_path, edit, "mess-small"), "E-PARAM")
    assert "zone 2" in msg


def test_no_warnings_on_tiny() -> None:
    assert load_mess_case("mess-tiny").warnings == []


def test_grade_loop_by_enumeration() -> None:
    """The reported loop equals the minimum net rise over all simple cycles found by brute force."""
    import itertools

    c = load_mess_case("mess-small")
    rise = {(a, b): d * g / 100 for a, b, d, g in zip(c.arcs["from"], c.arcs["to"], c.arcs["length_km"],
                                                       c.arcs["grade_pct"], strict=True)}
    nodes = list(c.nodes["id"])
    best = 0.0
    for k in range(2, len(nodes) + 1):
        for perm in itertools.permutations(nodes, k):
            if perm[0] != min(perm):
                continue
            cyc = list(perm) + [perm[0]]
            if all((a, b) in rise for a, b in zip(cyc, cyc[1:], strict=False)):
                best = min(best, sum(rise[(a, b)] for a, b in zip(cyc, cyc[1:], strict=False)))
    loop, r = grade_loop(c)  # type: ignore[misc]
    assert r == pytest.approx(best, abs=1e-12) and r == pytest.approx(-5.4)
    assert loop[0] == loop[-1]


def test_shortest_path() -> None:
    c = load_mess_case("mess-large")
    km, path = shortest_path(c, 2, 6)
    assert km == 15.0 and path == [2, 1, 6]
    dm = distance_matrix_km(c)
    assert isinstance(dm, pd.DataFrame) and dm.loc[0, 15] == 45.0  # 0→13→15 = 40 + 5
    km, path = shortest_path(c, 15, 10)
    assert path[0] == 15 and path[-1] == 10 and km == dm.loc[15, 10]


def test_not_fifo_warning(tmp_path: Path) -> None:
    c = load_mess_case("mess-small")
    c.config["traffic"]["model"] = "prototype"
    c.save(tmp_path / "c")
    w = {i.code: i.reason for i in load_mess_case(tmp_path / "c").warnings}
    assert "W-NOT-FIFO" in w and "07:00" in w["W-NOT-FIFO"]
    assert "W-NOT-FIFO" not in {i.code for i in load_mess_case("mess-small").warnings}


def test_unreachable_by_road(tmp_path: Path) -> None:
    def edit(c: MessCase) -> None:
        c.arcs = c.arcs[~((c.arcs["from"] == 0) & (c.arcs["to"] == 11)) & ~(c.arcs["to"] == 11)].reset_index(
            drop=True)

    msg = _one(_broken(tmp_path, edit, "mess-large"), "E-UNREACHABLE")
    assert "site 11: no road path from depot 0" in msg

    def edit_back(c: MessCase) -> None:
        c.arcs = c.arcs[~(c.arcs["from"] == 2)].reset_index(drop=True)

    msg = _one(_broken(tmp_path / "b", edit_back), "E-UNREACHABLE")
    assert "site 2: no road path back to depot 0" in msg
