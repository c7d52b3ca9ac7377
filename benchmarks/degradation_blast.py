"""Degradation models: throughput of the vectorised API and the BLAST-Lite agreement table (mess.md §4).

Usage: ``.venv/bin/python benchmarks/degradation_blast.py``. Prints the time per million DP transitions for every
model, then (if blast-lite is installed) the agreement table of ``tests/test_degradation_against_blast_lite.py``.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np

from tenflow.mess.degradation import MODEL_NAMES, BatteryParams, make_model


def bench_api(n: int = 1_000_000, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    s1 = rng.uniform(0.05, 1.0, n)
    s2 = rng.uniform(0.05, 1.0, n)
    h = rng.uniform(1 / 12, 2.0, n)
    c = rng.uniform(0.1, 3.0, n)
    t0 = rng.uniform(5.0, 20.0, n)
    print(f"| model | transition() for {n:,} arcs (s) | leg() for {n:,} legs (s) |")
    print("|---|---|---|")
    for name in MODEL_NAMES:
        m = make_model(name, BatteryParams())
        a = time.perf_counter()
        m.transition(s1, s2, h, c)
        b = time.perf_counter()
        m.leg(s1, s2, t0, t0 + h)
        e = time.perf_counter()
        print(f"| {name} | {b - a:.3f} | {e - b:.3f} |")


def blast_table() -> None:
    path = Path(__file__).resolve().parents[1] / "tests" / "test_degradation_against_blast_lite.py"
    try:
        found = importlib.util.find_spec("blast.models") is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        print("blast-lite not installed: agreement table skipped")
        return
    spec = importlib.util.spec_from_file_location("_blast_xcheck", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod._print_table(mod.agreement_table())


if __name__ == "__main__":
    bench_api()
    print()
    blast_table()
