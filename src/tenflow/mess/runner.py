"""Run a MESS study end to end (mess.md §7 Python API behind ``tenflow mess run`` / ``compare``).

``run_case`` loads a case, applies the command-line options (preset, grid, solver), solves it exactly with
:func:`tenflow.mess.optimize.solve`, builds the requested baselines (:mod:`tenflow.mess.baselines`), evaluates every
plan with the independent evaluator (:mod:`tenflow.mess.evaluate`) and checks the §9 invariants
(:mod:`tenflow.mess.checks`). ``write_results`` (:mod:`tenflow.mess.report`) writes the folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tenflow.errors import CaseError, InfeasibleError
from tenflow.mess.case import MessCase, load_mess_case
from tenflow.mess.checks import check_plan
from tenflow.mess.evaluate import EvalContext, evaluate
from tenflow.mess.report import MethodRun, write_results

#: --preset → (physics φ, degradation model) (mess.md §7)
PRESETS: dict[str, tuple[float, str]] = {
    "prototype-nmc": (0.1, "proto-m1-nmc"),
    "prototype-lfp": (0.1, "proto-m2-lfp"),
    "prototype-generalized": (1.0, "proto-m3-gen"),
}
DEGRADATIONS = ("nmc", "lfp", "generalized", "dod", "proto-m1-nmc", "proto-m2-lfp", "proto-m3-gen")
BASELINES = ("nearest", "shortest")

#: exit codes of mess.md §8 by optimiser status
EXIT_BY_STATUS = {"optimal": 0, "feasible": 4, "no_solution": 5, "infeasible": 3}


def apply_options(case: MessCase, *, preset: str | None = None, degradation: str | None = None,
                  step_min: int | None = None, soc_bucket: float | None = None, time_limit: float | None = None,
                  threads: int | None = None, seed: int | None = None) -> tuple[MessCase, str]:
    """A copy of ``case`` with the command-line options applied; returns it and the degradation model name.

    ``preset`` (§7) sets physics ``prototype`` (φ 0.1 / 0.1 / 1.0), traffic ``prototype``, the preset degradation
    model, prototype prices with DA 27 ¢/kWh, charger (and depot) efficiency 1 and the truck SoC window [0, 1].
    An explicit ``degradation`` overrides the model.
    """
    c = case.copy()
    cfg = c.config
    model = str(cfg["battery"]["model"])
    if preset is not None:
        if preset not in PRESETS:
            raise CaseError(f"unknown preset '{preset}' (choose from {', '.join(PRESETS)})", field="--preset",
                            code="E-PARAM")
        phi, model = PRESETS[preset]
        cfg["physics"]["model"] = "prototype"
        cfg["physics"]["prototype_phi"] = phi
        cfg["traffic"]["model"] = "prototype"
        cfg["prices"]["source"] = "prototype"
        cfg["prices"]["prototype"]["da_fixed_cents"] = 27.0
        cfg["prices"]["prototype"]["da_seed"] = None
        cfg["prices"]["prototype"]["da_series_cents"] = None
        cfg["depot"]["efficiency"] = 1.0
        c.chargers = c.chargers.assign(efficiency=1.0)
        c.trucks = c.trucks.assign(soc_min=0.0, soc_max=1.0)
    if degradation is not None:
        d = degradation.strip().lower()
        if d not in DEGRADATIONS:
            raise CaseError(f"unknown degradation model '{degradation}' (choose from {', '.join(DEGRADATIONS)})",
                            field="--degradation", code="E-BATTERY")
        model = "generalized" if d == "dod" else d
    cfg["battery"]["model"] = model
    if step_min is not None:
        if step_min <= 0 or 60 % step_min:
            raise CaseError(f"--step-min {step_min} must divide 60", field="time.step_min", code="E-GRID")
        cfg["time"]["step_min"] = int(step_min)
    if soc_bucket is not None:
        inv = 1.0 / soc_bucket if soc_bucket > 0 else 0.0
        if soc_bucket <= 0 or soc_bucket > 1 or abs(inv - round(inv)) > 1e-9:
            raise CaseError(f"--soc-bucket {soc_bucket}: 1/bucket must be an integer", field="soc.bucket",
                            code="E-GRID")
        cfg["soc"]["bucket"] = float(soc_bucket)
    if time_limit is not None:
        cfg["solver"]["time_limit_s"] = float(time_limit)
    if threads is not None:
        cfg["solver"]["threads"] = int(threads)
    if seed is not None:
        cfg["solver"]["seed"] = int(seed)
    if any(v is not None for v in (preset, step_min, soc_bucket)):
        from tenflow.mess.validate import validate

        c.warnings = validate(c)
    return c, model


@dataclass
class StudyResult:
    """Outcome of :func:`run_case`."""

    case: MessCase
    model: str
    runs: list[MethodRun]
    lmp: pd.DataFrame
    options: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        for r in self.runs:
            if r.method == "optimized":
                return EXIT_BY_STATUS.get(r.status, 0 if r.status == "unavailable" else 1)
        return 0

    def run(self, method: str) -> MethodRun | None:
        return next((r for r in self.runs if r.method == method), None)


def _optimize(case: MessCase, model: str, time_limit: float) -> MethodRun:
    t0 = time.perf_counter()
    try:
        from tenflow.mess.optimize import solve
    except ImportError as exc:  # optimiser not available in this build
        return MethodRun("optimized", "unavailable", reason=f"optimiser not available: {exc}")
    try:
        res = solve(case, degradation=model, time_limit=time_limit)
    except InfeasibleError as exc:
        return MethodRun("optimized", "infeasible", reason=str(exc), runtime_s=time.perf_counter() - t0)
    except ImportError as exc:  # a part of the optimiser missing in this build
        return MethodRun("optimized", "unavailable", reason=f"optimiser not available: {exc}")
    dt = time.perf_counter() - t0
    plan = res.plan if res.status in ("optimal", "feasible") else None
    info = {"iterations": getattr(res, "iterations", None), "columns": getattr(res, "columns", None),
            "timings": dict(getattr(res, "timings", {}) or {})}
    return MethodRun("optimized", str(res.status), plan=plan, objective=res.objective, lb=res.lb, gap=res.gap,
                     runtime_s=dt, info=info)


def run_case(case_ref: str | Path | MessCase, degradation: str | None = None,
             compare: tuple[str, ...] | list[str] = BASELINES, *, optimize: bool = True,
             preset: str | None = None, time_limit: float | None = None, step_min: int | None = None,
             soc_bucket: float | None = None, threads: int | None = None, seed: int | None = None,
             echo: Any = None) -> StudyResult:
    """Solve, build baselines, evaluate and check one case × degradation model (mess.md §7).

    Parameters
    ----------
    case_ref
        Built-in name, case folder, or a loaded :class:`MessCase`.
    degradation
        ``nmc`` | ``lfp`` | ``generalized`` | preset model names; default: the case's (or preset's) model.
    compare
        Baselines to run (subset of ``nearest``, ``shortest``).
    optimize
        Run the exact optimiser (method ``optimized``).
    preset, time_limit, step_min, soc_bucket, threads, seed
        Options of :func:`apply_options`.
    """
    from tenflow.mess.baselines import run_baseline
    from tenflow.mess.prices import price_table
    from tenflow.results.progress import status

    say = echo or (lambda msg: None)
    t0 = time.perf_counter()
    base = case_ref if isinstance(case_ref, MessCase) else load_mess_case(case_ref)
    for m in compare:
        if m not in BASELINES:
            raise CaseError(f"unknown baseline '{m}' (choose from {', '.join(BASELINES)})", field="--compare",
                            code="E-PARAM")
    case, model = apply_options(base, preset=preset, degradation=degradation, step_min=step_min,
                                soc_bucket=soc_bucket, time_limit=time_limit, threads=threads, seed=seed)
    options = {"case": case.name, "degradation": model, "compare": list(compare), "preset": preset,
               "time_limit_s": float(case.config["solver"]["time_limit_s"]),
               "step_min": int(case.config["time"]["step_min"]), "soc_bucket": float(case.config["soc"]["bucket"]),
               "threads": int(case.config["solver"]["threads"]), "seed": int(case.config["solver"]["seed"])}
    timings = {"load": time.perf_counter() - t0}
    ctx = EvalContext(case, model)
    runs: list[MethodRun] = []
    if optimize:
        status(f"{case.name}: exact optimisation ({model})")
        r = _optimize(case, model, float(case.config["solver"]["time_limit_s"]))
        runs.append(r)
        say(f"optimized: {r.status}" + (f", objective {r.objective:,.2f} $" if r.objective is not None else ""))
    for m in compare:
        status(f"{case.name}: baseline {m}")
        t1 = time.perf_counter()
        br = run_baseline(case, m, ctx=ctx)
        runs.append(MethodRun(m, br.status, plan=br.plan if br.status == "feasible" else None,
                              runtime_s=time.perf_counter() - t1, reason=br.reason))
        say(f"{m}: {br.status}" + (f" ({br.reason})" if br.reason else ""))
    for r in runs:
        if r.plan is not None:
            t1 = time.perf_counter()
            r.evaluation = evaluate(case, r.plan, ctx=ctx)
            r.violations = check_plan(r.evaluation)
            timings[f"evaluate_{r.method}"] = time.perf_counter() - t1
    timings["total"] = time.perf_counter() - t0
    lmp = price_table(case)
    return StudyResult(case, model, runs, lmp, options, timings)


def write_study(res: StudyResult, out: str | Path, *, fmt: str = "csv", plots: bool = True) -> Path:
    """Write the result folder of :func:`run_case` (atomically)."""
    return write_results(out, res.case, res.runs, model=res.model, lmp=res.lmp, options=res.options, fmt=fmt,
                         plots=plots, extra_json={"timings": res.timings})


def compare(cases: list[str], models: list[str | None], methods: list[str] | tuple[str, ...] = BASELINES,
            out: str | Path | None = None, *, fmt: str = "csv", plots: bool = True, **options: Any) -> pd.DataFrame:
    """Run every case × model (optimized + ``methods``); with ``out`` write ``out/<case>-<model>/`` folders and
    ``out/summary.csv``. Returns the summary (one row per case × model × method, with
    ``savings_pct_vs_method`` = 100·(J_method − J_optimized)/J_method)."""
    from tenflow.mess.report import comparison_table
    from tenflow.results.io import write_table

    rows = []
    for c in cases:
        for m in models:
            res = run_case(c, m, tuple(methods), **options)
            name = Path(str(c)).name
            if out is not None:
                write_study(res, Path(out) / f"{name}-{res.model}", fmt=fmt, plots=plots)
            comp = comparison_table(res.runs)
            comp.insert(0, "degradation", res.model)
            comp.insert(0, "case", name)
            opt = comp[comp["method"] == "optimized"]["total"]
            jo = float(opt.iloc[0]) if len(opt) else float("nan")
            comp["savings_pct_vs_method"] = 100 * (comp["total"] - jo) / comp["total"]
            rows.append(comp)
    summary = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    if out is not None:
        write_table(summary, Path(out) / "summary.csv", fmt)
    return summary
