"""CLI commands for cases and nets: ``tenflow cases``, ``tenflow case show|validate``, ``tenflow net``.

Output is a rich table on a terminal and plain aligned text when piped (or under tests).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from tenflow.errors import TenflowError


def _tty() -> bool:
    return sys.stdout.isatty()


def _print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    """A rich table on a terminal, plain aligned text otherwise."""
    if _tty():
        from rich.console import Console
        from rich.table import Table

        t = Table(title=title)
        for i, h in enumerate(header):
            t.add_column(h, justify="right" if rows and all(_is_number(str(r[i])) for r in rows) else "left")
        for r in rows:
            t.add_row(*[str(x) for x in r])
        Console().print(t)
        return
    click.echo(title)
    cells = [header] + [[str(x) for x in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    numeric = [all(_is_number(r[i]) for r in cells[1:]) for i in range(len(header))]
    for j, r in enumerate(cells):
        click.echo("  " + "  ".join(c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in
                                     enumerate(zip(r, widths, strict=True))).rstrip())
        if j == 0:
            click.echo("  " + "  ".join("-" * w for w in widths))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == "-"
    return True


def _load(name_or_path: str) -> Any:
    from tenflow import cases

    return cases.load_path(cases.resolve(name_or_path))


def _load_omtepf(name_or_path: str) -> Any:
    from tenflow import cases
    from tenflow.case import load_case

    folder = cases.resolve(name_or_path)
    if cases.case_kind(folder) != "omtepf":
        raise TenflowError(f"'{name_or_path}' is a {cases.case_kind(folder).upper()} case; nets are built for "
                           "OMTEPF cases only")
    return load_case(folder)


def net_summary_rows(case: Any) -> tuple[list[list[Any]], dict[str, dict[str, Any]]]:
    """Rows of the net-size table (both forms) and the raw summaries with build times."""
    from tenflow.hfgt import build_nets

    sums: dict[str, dict[str, Any]] = {}
    for form in ("full", "pruned"):
        t0 = time.perf_counter()
        s: dict[str, Any] = build_nets(case, form).summary()
        s["build_seconds"] = round(time.perf_counter() - t0, 4)
        sums[form] = s
    keys = [("places", "places"), ("transitions", "transitions"), ("electrical", "  electrical (E)"),
            ("transport", "  transport (T)"), ("charging", "  charging (C)"),
            ("ev_capabilities_per_step", "EV capabilities per step"), ("operand_places", "operand places"),
            ("operand_transitions", "operand transitions"), ("firings", "EV firing variables (horizon)"),
            ("idle", "idle/queue variables (horizon)")]
    rows = [[label, sums["full"].get(k, "-"), sums["pruned"].get(k, "-")] for k, label in keys]
    return rows, sums


def register(group: click.Group) -> None:
    """Add ``cases``, ``case`` (show, validate) and ``net`` to the ``tenflow`` group."""

    @group.command("cases")
    def cases_cmd() -> None:
        """List the built-in cases."""
        from tenflow import cases
        from tenflow.case.schema import read_toml

        rows = []
        for name in cases.list():
            folder = cases.path(name)
            kind = cases.case_kind(folder)
            doc = read_toml(folder / "case.toml")
            sec = doc.get("meta") or doc.get("case") or {}
            rows.append([name, kind, str(sec.get("description", ""))[:70] if isinstance(sec, dict) else ""])
        _print_table("Built-in cases", ["name", "kind", "description"], rows)

    @group.group("case")
    def case_group() -> None:
        """Inspect and validate cases."""

    @case_group.command("show")
    @click.argument("case")
    def show(case: str) -> None:
        """Component counts and net sizes (full and pruned) of CASE (a built-in name or a folder)."""
        from tenflow import cases

        folder = cases.resolve(case)
        if cases.case_kind(folder) != "omtepf":
            obj = _load(case)
            click.echo(f"{folder.name}: MESS case\n{obj!r}")
            return
        c = _load_omtepf(case)
        click.echo(f"case {c.name}: K = {c.K} steps of {c.meta['step_minutes']} min from {c.meta['start_time']}"
                   f" ({folder})")
        counts = c.counts()
        _print_table("Components", ["table", "rows"], [[k, v] for k, v in counts.items()])
        rows, sums = net_summary_rows(c)
        _print_table("Hetero-functional nets", ["", "full", "pruned"], rows)
        click.echo(f"build time: full {sums['full']['build_seconds']:.3f} s, pruned "
                   f"{sums['pruned']['build_seconds']:.3f} s")

    @case_group.command("validate")
    @click.argument("path")
    def validate(path: str) -> None:
        """Validate the case at PATH (or a built-in name); exit code 2 with every problem listed if invalid."""
        from tenflow import cases

        folder = cases.resolve(path)
        obj = _load(path)
        kind = cases.case_kind(folder)
        if kind == "omtepf":
            counts = obj.counts()
            click.echo(f"OK: {folder} is a valid OMTEPF case '{obj.name}' (K = {obj.K}, "
                       f"{counts['buffers']} buffers, {counts['roads']} roads, {counts['evs']} EVs, "
                       f"{counts['lines']} lines)")
        else:
            click.echo(f"OK: {folder} is a valid {kind.upper()} case")

    @group.command("net")
    @click.argument("case")
    @click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
                  help="Output folder (replaced atomically).")
    @click.option("--form", type=click.Choice(["full", "pruned"]), default="full", show_default=True,
                  help="Net form (pruned also writes firings.csv).")
    def net(case: str, out: Path, form: str) -> None:
        """Export the nets of CASE: M+, M-, D- as Matrix Market files plus index CSVs for rows and columns."""
        import scipy.io

        from tenflow.hfgt import build_nets
        from tenflow.results.io import atomic_dir, provenance, write_json

        c = _load_omtepf(case)
        t0 = time.perf_counter()
        nets = build_nets(c, form)  # type: ignore[arg-type]
        secs = time.perf_counter() - t0
        with atomic_dir(out) as tmp:
            scipy.io.mmwrite(str(tmp / "M_plus.mtx"), nets.M_plus, comment="ESN M+ (places x transitions)")
            scipy.io.mmwrite(str(tmp / "M_minus.mtx"), nets.M_minus, comment="ESN M- (places x transitions)")
            scipy.io.mmwrite(str(tmp / "D_minus.mtx"), nets.D_minus,
                             comment="D- (operand transitions x transitions)")
            nets.places.to_csv(tmp / "places.csv", index_label="row", lineterminator="\n")
            nets.transitions.to_csv(tmp / "transitions.csv", index_label="col", lineterminator="\n")
            nets.operand_transitions.to_csv(tmp / "operand_transitions.csv", index_label="row", lineterminator="\n")
            nets.operand_places.to_csv(tmp / "operand_places.csv", index_label="row", lineterminator="\n")
            if nets.firings is not None:
                nets.firings.to_csv(tmp / "firings.csv", index=False, lineterminator="\n")
            summary = nets.summary()
            write_json(tmp / "summary.json", {"case": c.name, "form": form, "summary": summary,
                                               "build_seconds": secs, "provenance": provenance(command="net")})
        click.echo(f"wrote {out}: {form} form, {summary['places']} places x {summary['transitions']} transitions"
                   + (f", {summary['firings']} firings" if "firings" in summary else ""))
