"""``tenflow demo``: the main job on the built-in cases (what ``make demo`` runs).

Runs, in order, the commands a new user would type and collects their outputs under one folder:

1. ``tenflow case show symmetrica-lite`` — component counts and hetero-functional net sizes;
2. ``tenflow net symmetrica-lite --out OUT/net`` — M+, M-, D- as Matrix Market files;
3. ``tenflow run symmetrica-lite --mode both --out OUT/omtepf`` — the coordinated vs uncoordinated study;
4. ``tenflow mess run mess-large --degradation nmc --compare nearest,shortest --out OUT/mess`` — the MESS study.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from tenflow.results.io import atomic_write_text

#: (title, argv template) of the demo steps; ``{out}`` is the demo output folder
STEPS: list[tuple[str, list[str]]] = [
    ("Case summary", ["case", "show", "symmetrica-lite"]),
    ("Hetero-functional nets", ["net", "symmetrica-lite", "--out", "{out}/net"]),
    ("OMTEPF: coordinated vs uncoordinated", ["run", "symmetrica-lite", "--mode", "both", "--out", "{out}/omtepf"]),
    ("MESS: mess-large, NMC", ["mess", "run", "mess-large", "--degradation", "nmc", "--compare", "nearest,shortest",
                               "--out", "{out}/mess"]),
]


def register(group: click.Group) -> None:
    @group.command("demo")
    @click.option("--out", type=click.Path(path_type=Path), default=Path("results/demo"), show_default=True,
                  help="folder for all demo outputs")
    @click.pass_context
    def demo(ctx: click.Context, out: Path) -> int:
        """Run the main job on the built-in cases and write a report folder."""
        out.mkdir(parents=True, exist_ok=True)
        lines = ["# tenflow demo\n", "| step | command | exit code | seconds |", "|---|---|---|---|"]
        worst = 0
        for title, argv in STEPS:
            args = [a.format(out=out) for a in argv]
            click.secho(f"\n== {title}: tenflow {' '.join(args)}", bold=True)
            t0 = time.perf_counter()
            from tenflow.cli.main import main as tf_main

            rc = tf_main(args)
            dt = time.perf_counter() - t0
            lines.append(f"| {title} | `tenflow {' '.join(args)}` | {rc} | {dt:.1f} |")
            # exit code 4 (MESS: stopped with a feasible plan) is a result, not a failure
            if rc not in (0, 4):
                worst = max(worst, rc)
                click.secho(f"step failed with exit code {rc}", fg="red", err=True)
        lines.append("")
        lines.append("Outputs: `net/` (incidence matrices), `omtepf/report.md`, `mess/report.md`.")
        atomic_write_text(out / "README.md", "\n".join(lines) + "\n")
        click.echo(f"\ndemo outputs in {out}/ (index: {out / 'README.md'})")
        return worst
