"""OMTEPF benchmark: uncoordinated pipeline and coordinated problem (issue 4, performance section).

Usage: ``.venv/bin/python benchmarks/omtepf.py [--no-scip] [--scip-cap 600] [--sizes 32,64,128]``.
Prints a table and writes ``benchmarks/results/omtepf.json``.

Measured in one run on the same machine:

1. symmetrica-lite (32 EVs): uncoordinated pipeline wall time (transport MILPs, heuristic, per-step OPF);
   coordinated wall time to a certified gap <= 0.1 % with the default backend (HiGHS MILP outer approximation
   + Clarabel polish, warm-started from the uncoordinated plan), model build share, sizes, gap;
2. SCIP on the same convex mixed-integer program, capped (default 600 s);
3. generated cases with more EVs (``k`` EVs per neighbourhood, same network): road capacities, lots and plugs
   scaled by ``k/2`` and per-firing charging currents by ``2/k`` (same aggregate electrical load), to show how
   time grows with the fleet.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

import tenflow
from tenflow.case import Case
from tenflow.problems import coordinated as CO
from tenflow.problems import uncoordinated as UN

OUT = Path(__file__).resolve().parent / "results" / "omtepf.json"


def scaled_case(base: Case, per_home: int) -> Case:
    """symmetrica-lite with ``per_home`` EVs per neighbourhood (see module docstring)."""
    f = per_home / 2
    evs0 = base.evs
    homes = evs0["home"].astype(str).drop_duplicates().tolist()
    ev_ids = [str(i + 1) for i in range(len(homes) * per_home)]
    evs = pd.DataFrame({"id": ev_ids, "home": [h for h in homes for _ in range(per_home)],
                        "battery": float(evs0["battery"].iat[0]), "soc_init": float(evs0["soc_init"].iat[0]),
                        "soc_final": float(evs0["soc_final"].iat[0])})
    it0 = base.itineraries[base.itineraries["ev"].astype(str) == str(evs0["id"].iat[0])]
    home0 = str(evs0["home"].iat[0])
    rows = []
    for e, h in zip(evs["id"], evs["home"], strict=True):
        t = it0.copy()
        t["ev"] = e
        t["buffer"] = t["buffer"].astype(str).where(t["buffer"].astype(str) != home0, h)
        rows.append(t)
    roads = base.roads.copy()
    roads["capacity"] = np.ceil(roads["capacity"] * f).astype(int)
    roads["current_re"] *= 1 / f
    roads["current_im"] *= 1 / f
    parking = base.parking.copy()
    parking["capacity"] = np.ceil(parking["capacity"] * f).astype(int)
    ch = base.chargers.copy()
    ch["plugs"] = np.ceil(ch["plugs"] * f).astype(int)
    ch["current_re"] *= 1 / f
    ch["current_im"] *= 1 / f
    tables = {n: base.table(n) for n in ("buffers", "lines", "generators", "variable_generators", "loads")}
    return Case.build({**base.meta, "name": f"symmetrica-lite-x{per_home}"}, base.options, base.costs,
                      roads=roads, parking=parking, chargers=ch, evs=evs,
                      itineraries=pd.concat(rows, ignore_index=True), profiles=base.profiles, **tables)


def bench_case(case: Case, *, scip: bool, scip_cap: float, time_limit: float) -> dict[str, object]:
    out: dict[str, object] = {"case": case.name, "evs": len(case.evs)}
    t0 = time.perf_counter()
    unc = UN.run(case)
    t_unc = time.perf_counter() - t0
    out["uncoordinated"] = {"wall_s": t_unc, "schedule_s": unc.info["timings"]["schedule_s"],
                            "opf_s": unc.info["opf"]["solve_s"] + unc.info["opf"]["build_s"],
                            "milp_s": sum(s["solve_s"] for s in unc.info["transport_milps"]),
                            "milp_sizes": [{k: s[k] for k in ("variables", "integer", "rows")}
                                           for s in unc.info["transport_milps"]],
                            "objective": unc.info["objective"],  # eq. 67 without C_S, as the coordinated one
                            "opf_objective": unc.info["opf"]["objective"]}
    t0 = time.perf_counter()
    co = CO.run(case, warm_start=unc, rel_gap=1e-3, time_limit=time_limit)
    t_co = time.perf_counter() - t0
    ti = co.info["timings"]
    out["coordinated"] = {"wall_s": t_co, "wall_incl_warm_start_s": t_co + t_unc, "build_s": ti["build_s"],
                          "build_share": ti["build_s"] / t_co, "milp_s": ti.get("milp_s"),
                          "polish_s": ti.get("polish_s"), "objective": co.info["objective"],
                          "program_objective": co.info["program_objective"], "bound": co.info["bound"],
                          "gap": co.info["gap"], "status": co.info["status"], "sizes": co.info["sizes"],
                          "warm_start_objective": co.info["warm_start_objective"],
                          "milp_rounds": sum(1 for h in co.info["history"] if h["phase"] == "milp"),
                          "kelley_rounds": sum(1 for h in co.info["history"] if h["phase"] == "kelley")}
    if scip:
        try:
            t0 = time.perf_counter()
            sc = CO.run(case, warm_start=unc, backend="scip", rel_gap=1e-3, time_limit=scip_cap)
            out["scip"] = {"wall_s": time.perf_counter() - t0, "cap_s": scip_cap, "gap": sc.info["gap"],
                           "program_objective": sc.info["program_objective"], "bound": sc.info["bound"],
                           "status": sc.info["status"]}
        except Exception as exc:  # noqa: BLE001 - report, do not abort the benchmark
            out["scip"] = {"error": repr(exc)}
    return out


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-scip", action="store_true")
    ap.add_argument("--scip-cap", type=float, default=600.0)
    ap.add_argument("--sizes", default="32,64,128", help="fleet sizes (multiples of 16)")
    ap.add_argument("--time-limit", type=float, default=900.0)
    a = ap.parse_args(argv)
    res: dict[str, object] = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                                          "cpus": os.cpu_count(), "load_average_1min_at_start": os.getloadavg()[0]}}
    base = tenflow.cases.load("symmetrica-lite")
    runs = []
    for n in [int(s) for s in a.sizes.split(",")]:
        case = base if n == len(base.evs) else scaled_case(base, n // 16)
        r = bench_case(case, scip=(not a.no_scip and n == len(base.evs)), scip_cap=a.scip_cap,
                       time_limit=a.time_limit)
        runs.append(r)
        print(f"... {case.name}: uncoordinated {r['uncoordinated']['wall_s']:.1f} s, "  # type: ignore[index]
              f"coordinated {r['coordinated']['wall_s']:.1f} s", flush=True)  # type: ignore[index]
    res["runs"] = runs
    res["machine"]["load_average_1min_at_end"] = os.getloadavg()[0]  # type: ignore[index]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=2, default=float))
    hdr = (f"{'case':<22}{'EVs':>4}{'uncoord s':>10}{'coord s':>9}{'build %':>8}{'gap %':>8}{'binaries':>9}"
           f"{'coord obj':>11}{'uncoord obj':>12}{'SCIP s':>8}{'SCIP gap %':>11}")
    print(hdr)
    for r in runs:
        u, c = r["uncoordinated"], r["coordinated"]  # type: ignore[index]
        s = r.get("scip", {})
        scip_s = f"{s['wall_s']:.0f}" if "wall_s" in s else "-"  # type: ignore[operator]
        scip_g = f"{100 * s['gap']:.3f}" if "gap" in s else "-"  # type: ignore[operator]
        print(f"{r['case']:<22}{r['evs']:>4}{u['wall_s']:>10.1f}{c['wall_s']:>9.1f}{100 * c['build_share']:>8.1f}"
              f"{100 * c['gap']:>8.3f}{c['sizes']['integer']:>9}{c['objective']:>11.3f}"
              f"{c['warm_start_objective']:>12.3f}{scip_s:>8}{scip_g:>11}")
    print(f"written {OUT}")
    return res


if __name__ == "__main__":
    main()
