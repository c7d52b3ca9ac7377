"""Benchmark of the exact MESS optimiser (mess.md §6.7, §9 check 11; issue 5 "Performance").

Times per built-in case × degradation model (instance build and solve, after numba warm-up; one run each),
and the growth on generated instances with 30 and 100 sites (mess-large's sites cloned onto new nodes with the same
roads, fleet scaled with the number of sites). Prints a table and writes ``benchmarks/results/mess.json``.

Run: ``.venv/bin/python benchmarks/mess.py [--quick]``.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tenflow.mess import optimize
from tenflow.mess.case import MessCase, load_mess_case
from tenflow.mess.evaluate import evaluate
from tenflow.mess.instance import build_instance

OUT = Path(__file__).resolve().parent / "results" / "mess.json"


def scaled_case(n_sites: int) -> MessCase:
    """mess-large with ``n_sites`` sites: extra sites clone the original ones (cyclically) on new nodes with the
    same incident roads, excavators and windows; every truck type gets ``ceil(count·n_sites/10)`` trucks."""
    base = load_mess_case("mess-large")
    case = base.copy()
    orig = list(base.sites["node"])
    next_id = int(max(base.nodes["id"])) + 1
    nodes, arcs, sites, exc = [case.nodes], [case.arcs], [case.sites], [case.excavators]
    for n in range(len(orig), n_sites):
        src = orig[n % len(orig)]
        new = next_id
        next_id += 1
        nr = base.nodes[base.nodes["id"] == src].copy()
        nr["id"] = new
        nr["name"] = f"{nr['name'].iloc[0]} #{n}"
        nodes.append(nr)
        a = base.arcs[(base.arcs["from"] == src) | (base.arcs["to"] == src)].copy()
        a.loc[a["from"] == src, "from"] = new
        a.loc[a["to"] == src, "to"] = new
        arcs.append(a)
        s = base.sites[base.sites["node"] == src].copy()
        s["node"] = new
        s["name"] = f"{s['name'].iloc[0]} #{n}"
        sites.append(s)
        e = base.excavators[base.excavators["site"] == src].copy()
        e["site"] = new
        exc.append(e)
    case.nodes = pd.concat(nodes, ignore_index=True)
    case.arcs = pd.concat(arcs, ignore_index=True)
    case.sites = pd.concat(sites, ignore_index=True)
    case.excavators = pd.concat(exc, ignore_index=True)
    tr = case.trucks.copy()
    nid = 1000
    for i in tr.index:
        want = int(np.ceil(int(tr.at[i, "count"]) * n_sites / len(orig)))
        ids = [x.strip() for x in str(tr.at[i, "ids"]).split(",")]
        while len(ids) < want:
            ids.append(str(nid))
            nid += 1
        tr.at[i, "ids"] = ",".join(ids)
        tr.at[i, "count"] = len(ids)
    case.trucks = tr
    case.name = f"mess-large-x{n_sites}"
    return case


def run(case: MessCase, model: str, time_limit: float = 600.0) -> dict[str, object]:
    t0 = time.perf_counter()
    inst = build_instance(case, degradation=model)
    t1 = time.perf_counter()
    res = optimize.solve_instance(inst, time_limit=time_limit)
    t2 = time.perf_counter()
    ev = evaluate(case, res.plan, model).total if res.objective is not None else None
    return {"case": case.name, "model": model, "sites": len(case.sites), "status": res.status,
            "objective": res.objective, "lb": res.lb, "gap": res.gap, "iterations": res.iterations,
            "columns": res.columns, "trips": len(res.plan.trips), "build_s": round(t1 - t0, 3),
            "solve_s": round(t2 - t1, 3), "evaluator_diff": None if ev is None else ev - res.objective,
            "timings": {k: round(v, 3) for k, v in res.timings.items()}}


def main() -> None:
    quick = "--quick" in sys.argv
    warm = time.perf_counter()
    optimize.solve("mess-tiny")  # numba compilation / cache load
    warm = time.perf_counter() - warm
    rows = []
    for name in ("mess-small", "mess-large"):
        case = load_mess_case(name)
        for model in ("nmc", "lfp", "generalized"):
            rows.append(run(case, model))
            print(rows[-1], flush=True)
    for n in ((30,) if quick else (30, 100)):
        rows.append(run(scaled_case(n), "generalized"))
        print(rows[-1], flush=True)
    print(f"\nwarm-up (numba) {warm:.2f} s")
    print(f"{'case':<18}{'model':<12}{'sites':>6}{'status':>9}{'J* $':>14}{'gap':>10}{'it':>5}{'cols':>6}"
          f"{'build s':>9}{'solve s':>9}")
    for r in rows:
        print(f"{r['case']:<18}{r['model']:<12}{r['sites']:>6}{r['status']:>9}{r['objective']:>14.6f}"
              f"{r['gap']:>10.2e}{r['iterations']:>5}{r['columns']:>6}{r['build_s']:>9.3f}{r['solve_s']:>9.3f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                               "warmup_s": warm, "runs": rows}, indent=2, default=float))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
