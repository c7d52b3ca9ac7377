"""``tenflow run``: solve the OMTEPF study on a case and write the report folder.

    tenflow run NAME|PATH [--mode coordinated|uncoordinated|both] --out DIR [--time-limit S] [--gap G]

NAME is a built-in case (``tenflow.cases.list()``), PATH a case folder. Both modes are evaluated by the
same evaluator (:mod:`tenflow.results.omtepf_eval`) and written by :func:`tenflow.results.omtepf_report.write_report`.
Progress is shown on a terminal (:mod:`tenflow.results.progress`). Exit codes, as for ``tenflow mess run``: 0
solved, 2 invalid input, 3 infeasible (the :class:`tenflow.errors.TenflowError` raised), 4 stopped (time limit)
with a feasible plan whose gap is above the target, 1 when a solution violates a §6.2 item 5 invariant.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any

import click

#: exit code when the report was written but a solution violates a §6.2 item 5 invariant (a defect)
EXIT_INFEASIBLE_RESULT = 1
#: exit code when the coordinated solve stopped with a feasible plan above the gap target
EXIT_GAP_NOT_REACHED = 4


def load_case_ref(ref: str) -> Any:
    """A case from a built-in name or a folder path (``tenflow.cases.resolve`` + ``tenflow.case.load_case``)."""
    from tenflow.case import load_case
    from tenflow.cases import resolve

    return load_case(resolve(ref))


def solve_mode(case: Any, mode: str, *, time_limit: float | None = None, gap: float | None = None) -> Any:
    """Solve one mode with :func:`tenflow.problems.omtepf.run`; options passed only when given.

    ``gap`` applies to the coordinated mode only (the uncoordinated pipeline has no MIP gap to certify).
    """
    from tenflow.problems import omtepf

    kwargs: dict[str, Any] = {}
    if time_limit is not None:
        kwargs["time_limit"] = time_limit
    if gap is not None and mode == "coordinated":
        kwargs["gap"] = gap
    return omtepf.run(case, mode, **kwargs)


def run_study(case_ref: str, modes: list[str], out: Path, *, time_limit: float | None = None,
              gap: float | None = None, echo: Any = None, command: str | None = None) -> dict[str, Any]:
    """Load, solve every mode, evaluate, write the report. Returns a dict with the evaluations and timings."""
    from tenflow.results import omtepf_eval as oe
    from tenflow.results.omtepf_report import write_report
    from tenflow.results.progress import status, track

    say = echo or (lambda msg: None)
    t0 = time.perf_counter()
    status(f"loading case {case_ref}")
    case = load_case_ref(case_ref)
    timings: dict[str, float] = {"load": time.perf_counter() - t0}
    solutions = []
    evals = []
    for mode in track(modes, description="OMTEPF", total=len(modes)):
        status(f"solving {mode} …")
        t = time.perf_counter()
        sol = solve_mode(case, mode, time_limit=time_limit, gap=gap)
        timings[f"solve_{mode}"] = time.perf_counter() - t
        t = time.perf_counter()
        ev = oe.evaluate(case, sol)
        timings[f"evaluate_{mode}"] = time.perf_counter() - t
        solutions.append(sol)
        evals.append(ev)
        gap_txt = sol.info.get("gap")
        say(f"{mode}: total {ev.total:.4f}  (C_G {ev.C_G:.3f}, R_D {ev.R_D:.3f}, queue {ev.queued}, "
            f"violations {len(ev.violations)}"
            + (f", gap {gap_txt}" if gap_txt is not None else "") + f")  [{timings[f'solve_{mode}']:.1f} s]")
    status("writing report")
    t = time.perf_counter()
    write_report(case, solutions, out, evaluations=evals,
                 run_fields={"command": command or "", "case_ref": case_ref, "modes": modes,
                             "time_limit": time_limit, "gap": gap, "timings_s": timings})
    timings["report"] = time.perf_counter() - t
    by = {e.mode: e for e in evals}
    if "uncoordinated" in by and "coordinated" in by:
        say(f"improvement: {oe.improvement(by['uncoordinated'], by['coordinated']):.2f} %")
    return {"case": case, "solutions": solutions, "evaluations": evals, "timings": timings}


def register(group: click.Group) -> None:
    """Add ``tenflow run`` to the CLI group."""

    @group.command("run")
    @click.argument("case_ref", metavar="NAME|PATH")
    @click.option("--mode", type=click.Choice(["coordinated", "uncoordinated", "both"]), default="both",
                  show_default=True, help="Operating mode(s) to solve (omtepf.md §3.9).")
    @click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
                  help="Report folder (replaced atomically).")
    @click.option("--time-limit", type=float, default=None, help="Solver time limit per mode [s].")
    @click.option("--gap", type=float, default=None, help="Relative MIP gap target of the coordinated solve.")
    def run(case_ref: str, mode: str, out: Path, time_limit: float | None, gap: float | None) -> int:
        """Solve the OMTEPF study on NAME|PATH and write tables, plots and report.md to --out."""
        if time_limit is not None and time_limit <= 0:
            raise click.BadParameter("must be > 0", param_hint="--time-limit")
        if gap is not None and not 0 <= gap < 1:
            raise click.BadParameter("must be in [0, 1)", param_hint="--gap")
        modes = ["uncoordinated", "coordinated"] if mode == "both" else [mode]
        cmd = ["tenflow", "run", case_ref, "--mode", mode, "--out", str(out)]
        cmd += ["--time-limit", str(time_limit)] if time_limit is not None else []
        cmd += ["--gap", str(gap)] if gap is not None else []
        res = run_study(case_ref, modes, out, time_limit=time_limit, gap=gap, echo=click.echo,
                        command=shlex.join(cmd))
        n_viol = sum(len(e.violations) for e in res["evaluations"])
        click.echo(f"report written to {out}/report.md")
        if n_viol:
            click.secho(f"warning: {n_viol} feasibility invariant(s) violated, see {out}/violations.csv",
                        fg="yellow", err=True)
            return EXIT_INFEASIBLE_RESULT
        if any(s.info.get("status") == "gap_not_reached" for s in res["solutions"]):
            click.secho("warning: the coordinated solve stopped above its gap target (see report.md)",
                        fg="yellow", err=True)
            return EXIT_GAP_NOT_REACHED
        return 0
