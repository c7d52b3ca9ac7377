"""(Re)create the bad-case folders from ``_base`` (run once; the folders are committed as plain files).

Each ``<name>/`` folder holds only the files that differ from ``_base/`` plus ``expect.toml``:
``remove`` (files deleted from the base), and ``file``/``row``/``field``/``contains`` describing the issue that
``tenflow.load_case`` must report. ``tests/test_case_bad.py`` overlays each folder on a copy of ``_base``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE = HERE / "_base"


def edit(name: str, fname: str, old: str, new: str, **expect: object) -> None:
    d = HERE / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    text = (BASE / fname).read_text()
    assert old in text, (name, old)
    (d / fname).write_text(text.replace(old, new, 1))
    _expect(d, **expect)


def _expect(d: Path, **expect: object) -> None:
    lines = []
    for k, v in expect.items():
        if isinstance(v, str):
            lines.append(f'{k} = "{v}"')
        elif isinstance(v, list):
            lines.append(f"{k} = [" + ", ".join(f'"{x}"' for x in v) + "]")
        else:
            lines.append(f"{k} = {v}")
    (d / "expect.toml").write_text("\n".join(lines) + "\n")


def remove(name: str, fname: str, **expect: object) -> None:
    d = HERE / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    _expect(d, remove=[fname], **expect)


def main() -> None:
    remove("missing_file", "roads.csv", file="roads.csv", contains="file is missing")
    edit("missing_column", "roads.csv", "id,a,b,two_way,capacity,", "id,a,b,two_way,capacityy,",
         file="roads.csv", field="capacity", contains="required column is missing")
    edit("unknown_buffer", "roads.csv", "R2,2,3,", "R2,2,7,", file="roads.csv", row=2, field="b",
         contains="unknown buffer '7'")
    edit("duplicate_id", "buffers.csv", "3,Crossing 3", "2,Crossing 3", file="buffers.csv", row=3, field="id",
         contains="duplicate id")
    edit("unknown_ev", "itineraries.csv", "E2,3,", "E9,3,", file="itineraries.csv", row=8, field="ev",
         contains="unknown EV 'E9'")
    edit("unknown_bus", "loads.csv", "D3,3,", "D3,77,", file="loads.csv", row=3, field="bus",
         contains="bus '77' does not exist")
    edit("negative_capacity", "parking.csv", "P4,4,2,", "P4,4,-1,", file="parking.csv", row=2, field="capacity",
         contains="must be >= 0")
    edit("nan_admittance", "lines.csv", "L3,2,3,40.0,", "L3,2,3,nan,", file="lines.csv", row=3, field="g",
         contains="NaN")
    edit("negative_conductance", "lines.csv", "L3,2,3,40.0,", "L3,2,3,-40.0,", file="lines.csv", row=3, field="g",
         contains="must be >= 0")
    edit("negative_length", "roads.csv", "R1,1,2,true,3,1,", "R1,1,2,true,3,-1,", file="roads.csv", row=1,
         field="travel_steps", contains="must be > 0")
    text = (BASE / "profiles.csv").read_text().splitlines()
    d = HERE / "profile_length"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    (d / "profiles.csv").write_text("\n".join(text[:-1]) + "\n")
    _expect(d, file="profiles.csv", contains="profile length 9 != K = 10")
    edit("profile_non_numeric", "profiles.csv", "\n3,", "\nthree,", file="profiles.csv", row=4, field="k",
         contains="'three' is not a number")
    edit("ev_home_no_parking", "evs.csv", "E2,1,", "E2,2,", file="evs.csv", row=2, field="home",
         contains="has no parking lot")
    edit("itinerary_overlap", "itineraries.csv", "E1,3,4,5,", "E1,3,3,5,", file="itineraries.csv", row=3,
         field="k_from", contains="overlaps window 1..3")
    edit("itinerary_outside_horizon", "itineraries.csv", "E1,5,9,9,", "E1,5,9,10,", file="itineraries.csv", row=5,
         field="k_to", contains="leaves the horizon 0..9")
    edit("itinerary_unreachable", "itineraries.csv", "E2,2,1,3,travel,4", "E2,2,1,2,travel,4",
         file="itineraries.csv", row=7, field="k_to",
         contains="EV 'E2': travel window 1..2 (2 steps) from '1' to '4' is unreachable in time: the shortest "
                  "path takes 3 steps")
    edit("grid_island", "lines.csv", "L4,3,4,50.0,-20.0,0.0,1.0,,true\n", "", file="lines.csv", field="from",
         contains="grid island without a generator: buses 4")
    edit("one_way_not_radial", "lines.csv", "L4,3,4,50.0,-20.0,0.0,1.0,,true\n",
         "L4,3,4,50.0,-20.0,0.0,1.0,,true\nL5,1,3,50.0,-20.0,0.0,1.0,,true\n", file="lines.csv", field="one_way",
         contains="require a radial grid")
    edit("charger_bus_missing", "chargers.csv", "C4,4,", "C4,8,", file="chargers.csv", row=2, field="buffer",
         contains="bus '8' does not exist")
    edit("non_numeric_cell", "roads.csv", "R3,3,4,true,4,", "R3,3,4,true,four,", file="roads.csv", row=3,
         field="capacity", contains="'four' is not an integer")
    d = HERE / "empty_table"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    (d / "evs.csv").write_text((BASE / "evs.csv").read_text().splitlines()[0] + "\n")
    _expect(d, file="evs.csv", contains="table is empty")
    edit("unknown_toml_key", "case.toml", "one_way_lines = true", "one_way_line = true", file="case.toml",
         field="options.one_way_line", contains="unknown key 'one_way_line'")
    edit("eligible_unknown_ev", "chargers.csv", "commercial,2.0,0.072,-0.0348,2,all", "commercial,2.0,0.072,-0.0348,2,E1;E7",
         file="chargers.csv", row=2, field="eligible", contains="unknown EV 'E7'")
    edit("unknown_profile", "loads.csv", "D4,4,house", "D4,4,office", file="loads.csv", row=4, field="g_profile",
         contains="unknown profile")
    edit("int_overflow", "roads.csv", "R1,1,2,true,3,", "R1,1,2,true,99999999999999999999,", file="roads.csv",
         row=1, field="capacity", contains="out of the integer range")
    edit("bad_choice", "chargers.csv", "H1,1,home,", "H1,1,house,", file="chargers.csv", row=1, field="type",
         contains="must be one of")


if __name__ == "__main__":
    main()
