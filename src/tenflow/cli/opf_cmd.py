"""CLI: ``tenflow opf NAME|PATH --out DIR`` — multi-period IV-AC OPF with bus prices (omtepf.md §3.6–3.10)."""

from __future__ import annotations

from pathlib import Path

import click


def register(group: click.Group) -> None:
    """Add the ``opf`` command to the ``tenflow`` group."""

    @group.command("opf")
    @click.argument("case")
    @click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Result folder (replaced atomically).")
    @click.option("--revenue", type=click.Choice(["ccp", "tangent", "exact", "none"]), default="ccp", show_default=True,
                  help="Demand revenue: convex-concave iterations, one tangent, exact (SCIP) or none.")
    @click.option("--steps", default=None, help="Step positions, e.g. '0:8' or '3,5,7' (default all).")
    @click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
    @click.option("--secant-deg", type=float, default=None, help="Override the secant angle of the lower bound.")
    @click.option("--K", "K", type=int, default=96, show_default=True, help="Steps of imported pandapower feeders.")
    def opf_command(case: str, out: Path, revenue: str, steps: str | None, fmt: str, secant_deg: float | None,
                    K: int) -> None:
        """Solve the OPF of CASE (built-in name, case folder, or pandapower feeder 'case33bw' / 'cigre-mv')."""
        import numpy as np

        from tenflow.case.pandapower_import import FEEDERS
        from tenflow.errors import CaseError
        from tenflow.problems.opf import load_grid, solve
        from tenflow.results.opf_results import write_opf_results

        grid = load_grid(case, K=K) if case in FEEDERS else load_grid(case)
        if secant_deg is not None:
            grid = grid.with_options(secant_theta_deg=secant_deg)
        sel = None
        if steps:
            try:
                if ":" in steps:
                    a, b = steps.split(":")
                    sel = np.arange(int(a or 0), int(b or grid.K))
                else:
                    sel = np.array([int(s) for s in steps.split(",")])
            except ValueError as exc:
                raise CaseError(f"--steps '{steps}' is not 'a:b' or a comma list of integers", field="--steps") from exc
            if sel.size == 0 or sel.min() < 0 or sel.max() >= grid.K:
                raise CaseError(f"--steps '{steps}' outside 0..{grid.K - 1}", field="--steps")
        res = solve(grid, steps=sel, revenue=revenue)
        write_opf_results(res, out, fmt=fmt, source=case)
        vm = np.abs(res.V)
        click.echo(f"opf {grid.name}: {len(res.steps)} steps, {res.method} ({res.iterations} solves), "
                   f"objective {res.objective:.6g}, |V| in [{vm.min():.4f}, {vm.max():.4f}], "
                   f"LMP in [{res.lmp.min():.4g}, {res.lmp.max():.4g}], build {res.build_s:.3f} s, "
                   f"solve {res.solve_s:.3f} s -> {out}")
