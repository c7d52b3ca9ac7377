"""Benchmark: build time and size of the hetero-functional nets (full and pruned forms).

Cases: the built-in symmetrica-lite (32 EVs) and synthetic grid cities with 100 and 1,000 EVs
(``tenflow.cases.generate.grid_city``). Prints a table and writes ``benchmarks/results/hfgt.json``.
Run: ``.venv/bin/python benchmarks/hfgt.py``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import tenflow
from tenflow.cases.generate import grid_city
from tenflow.hfgt import build_nets
from tenflow.results.io import provenance, write_json

OUT = Path(__file__).resolve().parent / "results" / "hfgt.json"


def best_of(fn: Any, repeat: int) -> tuple[float, Any]:
    best, res = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        best = min(best, time.perf_counter() - t0)
    return best, res


def main() -> int:
    cases = [
        ("symmetrica-lite", lambda: tenflow.cases.load("symmetrica-lite"), 5),
        ("grid-city 5x5, 100 EVs", lambda: grid_city(5, 5, 100, seed=0), 3),
        ("grid-city 10x10, 1000 EVs", lambda: grid_city(10, 10, 1000, seed=0), 1),
    ]
    rows = []
    for label, make, rep in cases:
        t_case, case = best_of(make, rep)
        t_full, full = best_of(lambda c=case: build_nets(c, "full"), rep)
        t_pr, pr = best_of(lambda c=case: build_nets(c, "pruned"), rep)
        sf, sp = full.summary(), pr.summary()
        rows.append({
            "case": label, "evs": len(case.evs), "buffers": len(case.buffers), "K": case.K,
            "case_seconds": round(t_case, 4),
            "full_seconds": round(t_full, 4), "full_places": sf["places"], "full_transitions": sf["transitions"],
            "full_nnz_M_minus": sf["nnz_M_minus"],
            "pruned_seconds": round(t_pr, 4), "pruned_transitions": sp["transitions"],
            "pruned_capabilities_per_step": sp["ev_capabilities_per_step"], "firings": sp["firings"],
        })
    cols = ["case", "evs", "case_seconds", "full_seconds", "full_places", "full_transitions", "pruned_seconds",
            "pruned_capabilities_per_step", "firings"]
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    for r in rows:
        print("  ".join(str(r[c]).ljust(w) for c, w in zip(cols, widths, strict=True)))
    write_json(OUT, {"benchmark": "hfgt", "rows": rows, "provenance": provenance(benchmark="hfgt")})
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
