"""``tenflow mess``: MESS routing and scheduling commands (mess.md §7, exit codes §8).

    tenflow mess run NAME|PATH --degradation nmc|lfp|generalized --compare nearest,shortest --out DIR
        [--preset prototype-nmc|prototype-lfp|prototype-generalized] [--time-limit S] [--step-min M]
        [--soc-bucket B] [--threads N] [--seed S] [--format csv|parquet] [--no-plots] [--no-optimize]
    tenflow mess compare CASE... --degradation nmc,lfp,generalized --compare nearest,shortest --out DIR
    tenflow mess validate NAME|PATH
    tenflow mess import-xlsx DIR --scale small|large --out CASE_DIR
    tenflow mess convert SRC DST
    tenflow mess replay-prototype NAME|PATH --model m3 --out DIR
    tenflow mess warmup

Exit codes: 0 optimal, 2 invalid input, 3 infeasible, 4 stopped with a feasible plan (gap reported), 5 stopped
without a plan, 1 internal error (also: a plan that violates an invariant or an evaluator mismatch > 1e-6 $).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

EVAL_TOL = 1e-6


def _csv_list(value: str | None) -> list[str]:
    if value is None:
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def _echo_comparison(res: Any) -> None:
    from tenflow.mess.report import comparison_table

    comp = comparison_table(res.runs)
    for _, r in comp.iterrows():
        tot = "–" if r["total"] != r["total"] else f"{r['total']:,.2f} $"
        extra = f"  ({r['reason']})" if r["reason"] else ""
        click.echo(f"  {r['method']:<10} {r['status']:<11} total {tot:>14}{extra}")


def _check_consistency(res: Any) -> int:
    """1 if a plan violates an invariant or the evaluator disagrees with the solver objective, else 0."""
    bad = 0
    for r in res.runs:
        if r.violations:
            click.secho(f"warning: {r.method} plan violates {len(r.violations)} invariant(s): {r.violations[0]}",
                        fg="red", err=True)
            bad = 1
        d = r.eval_diff
        if d is not None and abs(d) > EVAL_TOL:
            click.secho(f"warning: {r.method}: independent evaluator differs from the solver objective by "
                        f"{d:.3e} $", fg="red", err=True)
            bad = 1
    return bad


def register(group: click.Group) -> None:
    @group.group("mess")
    def mess() -> None:
        """MESS: battery-truck routing and scheduling of mobile energy storage (mess.md)."""

    @mess.command("run")
    @click.argument("case")
    @click.option("--degradation", default=None, help="nmc | lfp | generalized (default: the case's battery.model)")
    @click.option("--compare", "compare_", default="", help="baselines, e.g. nearest,shortest")
    @click.option("--out", type=click.Path(path_type=Path), required=True, help="result folder (replaced)")
    @click.option("--preset", type=click.Choice(["prototype-nmc", "prototype-lfp", "prototype-generalized"]),
                  default=None, help="prototype physics, traffic, prices and degradation (§7)")
    @click.option("--time-limit", type=float, default=None, help="solver time limit in s")
    @click.option("--step-min", type=int, default=None, help="grid step Δ in minutes (must divide 60)")
    @click.option("--soc-bucket", type=float, default=None, help="SoC bucket as a fraction (1/bucket integer)")
    @click.option("--threads", type=int, default=None)
    @click.option("--seed", type=int, default=None)
    @click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
    @click.option("--no-plots", is_flag=True, help="skip the PNG/SVG plots")
    @click.option("--no-optimize", is_flag=True, help="run only the baselines")
    def run(case: str, degradation: str | None, compare_: str, out: Path, preset: str | None,
            time_limit: float | None, step_min: int | None, soc_bucket: float | None, threads: int | None,
            seed: int | None, fmt: str, no_plots: bool, no_optimize: bool) -> int:
        """Solve CASE exactly, compare with baselines, write OUT (report.md, tables, plots, run.json)."""
        from tenflow.mess.runner import run_case, write_study

        t0 = time.perf_counter()
        res = run_case(case, degradation, tuple(_csv_list(compare_)), optimize=not no_optimize, preset=preset,
                       time_limit=time_limit, step_min=step_min, soc_bucket=soc_bucket, threads=threads,
                       seed=seed)
        write_study(res, out, fmt=fmt, plots=not no_plots)
        click.echo(f"{res.case.name} ({res.model}) in {time.perf_counter() - t0:.1f} s:")
        _echo_comparison(res)
        click.echo(f"report: {out / 'report.md'}")
        code = res.exit_code
        if _check_consistency(res) and code == 0:
            code = 1
        return code

    @mess.command("compare")
    @click.argument("cases", nargs=-1, required=True)
    @click.option("--degradation", default="nmc,lfp,generalized", show_default=True)
    @click.option("--compare", "compare_", default="nearest,shortest", show_default=True)
    @click.option("--out", type=click.Path(path_type=Path), required=True)
    @click.option("--preset", type=click.Choice(["prototype-nmc", "prototype-lfp", "prototype-generalized"]),
                  default=None)
    @click.option("--time-limit", type=float, default=None)
    @click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
    @click.option("--no-plots", is_flag=True)
    def compare_cmd(cases: tuple[str, ...], degradation: str, compare_: str, out: Path, preset: str | None,
                    time_limit: float | None, fmt: str, no_plots: bool) -> int:
        """Run every CASE × degradation model; one folder each plus OUT/summary.csv."""
        from tenflow.mess.runner import compare

        models: list[str | None] = list(_csv_list(degradation)) or [None]
        summary = compare(list(cases), models, _csv_list(compare_), out, fmt=fmt, plots=not no_plots,
                          preset=preset, time_limit=time_limit)
        for _, r in summary.iterrows():
            tot = "–" if r["total"] != r["total"] else f"{r['total']:,.2f} $"
            click.echo(f"  {r['case']:<12} {r['degradation']:<12} {r['method']:<10} {r['status']:<11} {tot:>14}")
        click.echo(f"summary: {out / 'summary.csv'}")
        st = summary[summary["method"] == "optimized"]["status"]
        codes = [{"optimal": 0, "feasible": 4, "no_solution": 5, "infeasible": 3}.get(s, 0) for s in st]
        return max(codes) if codes else 0

    @mess.command("validate")
    @click.argument("case")
    def validate_cmd(case: str) -> int:
        """Validate a case (all input errors at once, §8); print warnings."""
        from tenflow.mess.case import load_mess_case

        c = load_mess_case(case)
        for w in c.warnings:
            click.echo(f"warning: {w}")
        click.echo(f"{c.name}: valid ({len(c.nodes)} nodes, {len(c.arcs)} arcs, {len(c.sites)} sites, "
                   f"{len(c.chargers)} chargers, {int(c.truck_types()['count'].sum())} trucks)")
        return 0

    @mess.command("import-xlsx")
    @click.argument("folder", type=click.Path(path_type=Path))
    @click.option("--scale", type=click.Choice(["small", "large"]), required=True)
    @click.option("--out", type=click.Path(path_type=Path), required=True, help="case folder to write")
    def import_xlsx_cmd(folder: Path, scale: str, out: Path) -> int:
        """Import the prototype's .xlsx workbooks (§2.4) into a case folder."""
        import shutil
        import tempfile

        from tenflow.mess.importer import import_xlsx

        case = import_xlsx(folder, scale)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        try:
            case.save(tmp)
            if out.exists():
                shutil.rmtree(out)
            tmp.rename(out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        click.echo(f"wrote {out} ({len(case.nodes)} nodes, {len(case.arcs)} arcs, {len(case.sites)} sites)")
        return 0

    @mess.command("convert")
    @click.argument("src")
    @click.argument("dst", type=click.Path(path_type=Path))
    def convert_cmd(src: str, dst: Path) -> int:
        """Convert a case folder to case.json or back (§2.1)."""
        from tenflow.mess.case import convert

        convert(src, dst)
        click.echo(f"wrote {dst}")
        return 0

    @mess.command("replay-prototype")
    @click.argument("case")
    @click.option("--model", type=click.Choice(["m1", "m2", "m3", "nmc-hist"]), default="m3", show_default=True)
    @click.option("--noise-seed", type=int, default=None)
    @click.option("--da-seed", type=int, default=None)
    @click.option("--out", type=click.Path(path_type=Path), required=True)
    def replay_cmd(case: str, model: str, noise_seed: int | None, da_seed: int | None, out: Path) -> int:
        """Replay the Co-OPT MESS prototype's day simulation (Appendix B)."""
        from tenflow.mess.prototype_replay import replay

        res = replay(case, model, noise_seed=noise_seed, da_seed=da_seed)
        res.write(out)
        click.echo(res.to_markdown())
        return 0

    @mess.command("warmup")
    def warmup_cmd() -> int:
        """Compile and cache the numba kernels (solves mess-tiny once)."""
        t0 = time.perf_counter()
        try:
            from tenflow.mess.optimize import solve
        except ImportError as exc:
            click.echo(f"optimiser not available: {exc}")
            return 1
        res = solve("mess-tiny", time_limit=60)
        click.echo(f"warm: mess-tiny {res.status} {res.objective} in {time.perf_counter() - t0:.1f} s")
        return 0
