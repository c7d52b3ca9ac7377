"""MESS result folders (mess.md §6.6, §7): comparison table, plan tables, plots, ``report.md``/``report.html``,
``run.json``; written atomically (a failure mid-write leaves the previous folder, or none, in place).

Folder layout of ``write_results(out, ...)``::

    out/report.md, report.html      comparison table first, then breakdowns, certificate, warnings, plots
    out/comparison.csv              one row per method (§6.6 totals, status, LB, gap; runtimes only in run.json)
    out/cost_breakdown.csv          per method × truck (+ sites, idle packs, end credit, total)
    out/trips.csv, legs.csv, charging.csv, site_soc.csv, truck_soc.csv   all methods (column ``method``)
    out/lmp.csv                     price per bus and hour ($/kWh)
    out/run.json                    provenance (versions, case hash, options, seeds, status, LB, UB, gap, timings)
    out/plots/*.png, *.svg          route_map_<method>, soc_time_<method>, lmp_heatmap, comparison_bars
    out/<method>/...                the plan tables of each method (and ``violations.csv`` if any)
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tenflow.mess.case import MessCase
from tenflow.mess.evaluate import COST_COLUMNS, Evaluation, _key
from tenflow.mess.plan import Plan
from tenflow.results.io import atomic_dir, atomic_write_text, provenance, write_json, write_table


@dataclass
class MethodRun:
    """One method's outcome: plan, independent evaluation, solver certificate and diagnostics.

    ``status``: ``optimal`` | ``feasible`` | ``infeasible`` | ``no_solution`` | ``unavailable``.
    """

    method: str
    status: str
    plan: Plan | None = None
    evaluation: Evaluation | None = None
    objective: float | None = None
    lb: float | None = None
    gap: float | None = None
    runtime_s: float = 0.0
    reason: str = ""
    violations: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def eval_diff(self) -> float | None:
        if self.evaluation is None or self.objective is None:
            return None
        return float(self.evaluation.total - self.objective)


def _hhmm(h: Any) -> Any:
    a = np.asarray(h, dtype=float)
    m = np.round(a * 60).astype(np.int64)
    return np.char.add(np.char.add(np.char.zfill((m // 60).astype(str), 2), ":"),
                       np.char.zfill((m % 60).astype(str), 2))


# ------------------------------------------------------------------------------------------------------
# tables
# ------------------------------------------------------------------------------------------------------
def trips_table(ev: Evaluation) -> pd.DataFrame:
    """trips.csv (§7): trip, method, truck type/id, site, start, arrival, swap end, end, delivered/removed SoC,
    km, kWh and cost columns."""
    t = ev.trips
    L = ev.ctx.L
    out = pd.DataFrame({
        "trip": t["trip"], "method": ev.method, "type": t["type"], "truck": t["truck"], "site": t["site"],
        "start": _hhmm(t["t_start"]), "arrival": _hhmm(t["t_arrive"]), "swap_end": _hhmm(t["t_swap_end"]),
        "end": _hhmm(t["t_end"]),
        "soc_start": t["q_start"].astype(float) / L, "soc_delivered": t["q_delivered"].astype(float) / L,
        "soc_removed": t["q_removed"].astype(float) / L, "soc_end": t["q_end"].astype(float) / L,
        "km": t["km"], "kwh_traction": t["kwh_traction"], "kwh_grid_enroute": t["kwh_grid_enroute"],
        "kwh_grid_depot": t["kwh_grid_depot"], "kwh_delivered": t["kwh_delivered"],
        "kwh_removed": t["kwh_removed"], "kwh_delivered_net": t["kwh_delivered_net"],
    })
    for c in (*COST_COLUMNS, "total"):
        out[c] = t[c].to_numpy(float)
    return out


def legs_table(ev: Evaluation) -> pd.DataFrame:
    """legs.csv (§7): one row per travel arc."""
    a = ev.arcs[ev.arcs["kind"] == "travel"]
    L = ev.ctx.L
    return pd.DataFrame({
        "trip": a["trip"], "seq": a["seq"], "method": ev.method, "truck": a["truck"], "from": a["frm"],
        "to": a["to"], "depart": _hhmm(a["t_from"]), "arrive": _hhmm(a["t_to"]),
        "travel_h": a["travel_h"], "km": a["km"], "grade_pct": a["grade"], "kwh": a["leg_kwh"],
        "soc_before": a["q_from"].astype(float) / L, "soc_after": a["q_to"].astype(float) / L,
        "kwh_end_exact": a["e_end_kwh"], "kwh_lowest": a["e_low_kwh"],
        "tolls": a["tolls"], "maintenance": a["maintenance"], "degradation_calendar": a["deg_cal"],
        "degradation_cycle": a["deg_cyc"],
    }).reset_index(drop=True)


def charging_table(ev: Evaluation) -> pd.DataFrame:
    """charging.csv (§7): one row per charging step (trip, charger/depot, bus, step, kWh, price, cost, plug)."""
    ctx = ev.ctx
    a = ev.arcs[ev.arcs["kind"] == "charge"].copy()
    a["bus"] = a["charge_site"].map(lambda k: ctx.chargers[k].bus if k in ctx.chargers else "")
    a = a.sort_values(["charge_site", "j_from", "trip"], kind="stable")
    a["plug"] = a.groupby(["charge_site", "j_from"]).cumcount() + 1
    a = a.sort_values(["trip", "seq"], kind="stable")
    return pd.DataFrame({
        "trip": a["trip"], "seq": a["seq"], "method": ev.method, "truck": a["truck"], "charger": a["charge_site"],
        "bus": a["bus"], "step_start": a["j_from"], "step_end": a["j_to"], "start": _hhmm(a["t_from"]),
        "end": _hhmm(a["t_to"]), "pack_kwh": a["pack_kwh_in"], "grid_kwh": a["grid_kwh"],
        "price_per_kwh": a["price"], "cost": a["energy"] + a["charging"], "plug": a["plug"],
    }).reset_index(drop=True)


def truck_soc_table(ev: Evaluation) -> pd.DataFrame:
    """truck_soc.csv: the truck's pack SoC at the start of each trip and at every arc end."""
    a = ev.arcs
    L = ev.ctx.L
    first = a.groupby("trip", sort=True).head(1)
    start = pd.DataFrame({"truck": first["truck"], "trip": first["trip"], "seq": -1, "time": first["t_from"],
                          "node": first["frm"], "event": "start", "soc": first["q_from"] / L})
    ends = pd.DataFrame({"truck": a["truck"], "trip": a["trip"], "seq": a["seq"], "time": a["t_to"],
                         "node": a["to"], "event": a["kind"], "soc": a["q_to"] / L})
    out = pd.concat([start, ends], ignore_index=True).sort_values(["trip", "seq"], kind="stable")
    out.insert(0, "method", ev.method)
    out["clock"] = _hhmm(out["time"])
    return out.reset_index(drop=True)


def site_soc_table(ev: Evaluation) -> pd.DataFrame:
    """site_soc.csv: site pack SoC (exact energy / capacity) on the grid, with the pack id (installing trip)."""
    ss = ev.site_soc.copy()
    per = ev.site_periods
    ss["pack"] = "initial"
    for _, p in per[per["trip"] >= 0].iterrows():
        m = (ss["site"].map(_key) == _key(p["site"])) & (ss["j"] >= p["j_install"])
        ss.loc[m, "pack"] = f"trip {int(p['trip'])}"
    ss.insert(0, "method", ev.method)
    ss["clock"] = _hhmm(ss["time"])
    return ss[["method", "site", "j", "time", "clock", "soc", "pack"]]


def pack_trajectories(ev: Evaluation) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """SoC trajectory (times h, SoC) of every physical pack: initial site packs ``site-<node>``, truck packs
    ``truck-<id>``. Packs change hands at swaps (the truck's pack is installed, the site's pack rides back); idle
    truck packs follow the model's convention (§4.1: a trip starts at ``s_dep``)."""
    ctx = ev.ctx
    L = ctx.L
    pts: dict[str, list[tuple[float, float]]] = {}
    truck_pack = {t: f"truck-{t}" for t in ctx.truck_type}
    site_pack = {k: f"site-{k}" for k in ctx.sites}
    installed: dict[tuple[str, int], str] = {}  # (site, install step) -> pack id
    a = ev.arcs
    sw = a[a["kind"] == "swap"].sort_values(["j_to", "trip"], kind="stable")
    order = list(sw["trip"]) + [t for t in sorted(a["trip"].unique()) if t not in set(sw["trip"])]
    for trip in order:
        g = a[a["trip"] == trip].sort_values("seq")
        truck = _key(g["truck"].iloc[0])
        carried = truck_pack.get(truck, f"truck-{truck}")
        cur = carried
        first = g.iloc[0]
        pts.setdefault(cur, []).append((float(first["t_from"]), float(first["q_from"]) / L))
        for _, r in g.iterrows():
            if r["kind"] == "swap":
                skey = _key(r["frm"])
                pts.setdefault(cur, []).append((float(r["t_to"]), float(r["q_from"]) / L))
                removed = site_pack.get(skey, f"site-{skey}")
                site_pack[skey] = cur
                installed[(skey, int(r["j_to"]))] = cur
                cur = removed
                pts.setdefault(cur, []).append((float(r["t_to"]), float(r["q_to"]) / L))
            else:
                pts.setdefault(cur, []).append((float(r["t_to"]), float(r["q_to"]) / L))
        truck_pack[truck] = cur
    ss = ev.site_soc
    for _, p in ev.site_periods.iterrows():
        skey = _key(p["site"])
        j0 = int(p["j_install"])
        pid = f"site-{skey}" if int(p["trip"]) < 0 else installed.get((skey, j0), f"site-{skey}")
        last = int(p["j_remove"]) < 0
        j1 = ctx.J if last else int(p["j_remove"])
        m = (ss["site"].map(_key) == skey) & (ss["j"] >= j0) & ((ss["j"] < j1) | (last & (ss["j"] == j1)))
        sub = ss[m]
        pts.setdefault(pid, []).extend(zip(sub["time"].astype(float), sub["soc"].astype(float), strict=True))
        if int(p["j_remove"]) >= 0:
            pts[pid].append((float(ctx.t(j1)), float(p["e_remove"]) / ctx.sites[skey].pack_kwh))
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for pid, lst in pts.items():
        arr = sorted(lst, key=lambda x: x[0])
        out[pid] = (np.array([x[0] for x in arr]), np.clip(np.array([x[1] for x in arr]), 0.0, 1.0))
    return out


def ex_post_table(ev: Evaluation) -> pd.DataFrame:
    """§4.7 ex-post assessment per pack (informational): rainflow cycles and cost with the model's Φ, discharge
    episodes, the planned additive cost along the trajectory and (nmc/lfp) the exact nonlinear fade cost."""
    from tenflow.mess.degradation import ex_post, soc_trajectory

    rows = []
    for pid, (t, s) in sorted(pack_trajectories(ev).items()):
        skey = pid.split("-", 1)[1]
        cap = (ev.ctx.sites[skey].pack_kwh if pid.startswith("site-") and skey in ev.ctx.sites
               else ev.ctx.types[ev.ctx.truck_type[skey]].pack_kwh if skey in ev.ctx.truck_type else 0.0)
        if cap <= 0:
            continue
        res = ex_post(ev.ctx.model(cap), soc_trajectory(t, s))
        row: dict[str, Any] = {"pack": pid, "points": len(t), "soc_min": float(s.min()), "soc_max": float(s.max())}
        for k, v in res.items():
            if isinstance(v, (int, float, np.integer, np.floating)):
                row[k] = float(v)
        rows.append(row)
    return pd.DataFrame(rows)


COMPARISON_COLUMNS = ["method", "status", "total", "lb", "gap", "km", "kwh_delivered", "cost_per_km",
                      "cost_per_kwh_delivered", "trips", "kwh_traction", "kwh_grid_enroute", "kwh_grid_depot",
                      "kwh_delivered_net", *COST_COLUMNS, "end_credit", "objective_solver", "evaluator_minus_solver",
                      "violations", "reason"]


def comparison_table(runs: list[MethodRun]) -> pd.DataFrame:
    """comparison.csv (§6.6): one row per method. Runtimes are kept out of the tables (only in ``run.json``) so
    that two runs give byte-identical tables (§9 check 12)."""
    rows = []
    for r in runs:
        row: dict[str, Any] = {c: math.nan for c in COMPARISON_COLUMNS}
        row.update(method=r.method, status=r.status, lb=r.lb if r.lb is not None else math.nan,
                   gap=r.gap if r.gap is not None else math.nan,
                   objective_solver=r.objective if r.objective is not None else math.nan,
                   evaluator_minus_solver=r.eval_diff if r.eval_diff is not None else math.nan,
                   violations=len(r.violations), reason=r.reason)
        if r.evaluation is not None:
            row.update(r.evaluation.summary())
        rows.append(row)
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def case_hash(case: MessCase) -> str:
    """sha256 of the case content (TOML keys and every table in canonical CSV form)."""
    h = hashlib.sha256()
    h.update(json.dumps(case.toml_dict(), sort_keys=True, default=str).encode())
    for t in case.TABLES:
        buf = io.StringIO()
        getattr(case, t).to_csv(buf, index=False, lineterminator="\n")
        h.update(t.encode())
        h.update(buf.getvalue().encode())
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------------------
def _fmt(x: Any, nd: int = 2) -> str:
    if x is None:
        return "–"
    if isinstance(x, (float, np.floating)):
        if not math.isfinite(float(x)):
            return "–"
        return f"{float(x):,.{nd}f}"
    return str(x)


def _md_table(df: pd.DataFrame, nd: int = 2) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(_fmt(r[c], nd) for c in cols) + " |")
    return "\n".join(lines)


def report_markdown(case: MessCase, runs: list[MethodRun], comp: pd.DataFrame, *, model: str,
                    plots: list[str], options: dict[str, Any]) -> str:
    """report.md: opens with the comparison table (method, status, total $, LB, gap, km, kWh delivered, $/km,
    $/kWh), then savings, cost breakdown, solver certificate, evaluator cross-check, warnings, plots."""
    head = comp[["method", "status", "total", "lb", "gap", "km", "kwh_delivered", "cost_per_km",
                 "cost_per_kwh_delivered"]].rename(columns={
                     "total": "total $", "lb": "LB $", "gap": "gap $", "kwh_delivered": "kWh delivered",
                     "cost_per_km": "$/km", "cost_per_kwh_delivered": "$/kWh"})
    out = [f"# MESS plan — {case.name}, degradation `{model}`", "", _md_table(head), ""]
    opt = comp[comp["method"] == "optimized"]
    if len(opt) and np.isfinite(opt["total"].iloc[0]):
        jo = float(opt["total"].iloc[0])
        for _, r in comp[comp["method"] != "optimized"].iterrows():
            if np.isfinite(r["total"]):
                out.append(f"- optimized saves {r['total'] - jo:,.2f} $ "
                           f"({100 * (r['total'] - jo) / r['total']:.2f} %) against `{r['method']}`.")
            else:
                out.append(f"- `{r['method']}`: {r['status']} — {r['reason'] or 'no plan'} (excluded from the "
                           "cost comparison).")
        out.append("")
    else:
        for _, r in comp.iterrows():
            if r["status"] in ("infeasible", "unavailable", "no_solution"):
                out.append(f"- `{r['method']}`: {r['status']} — {r['reason'] or 'no plan'}.")
        out.append("")
    out += ["## Cost breakdown ($ per day)", ""]
    cols = ["method", "trips", *COST_COLUMNS, "end_credit", "total", "kwh_traction", "kwh_grid_enroute",
            "kwh_grid_depot", "kwh_delivered_net"]
    out += [_md_table(comp[cols]), ""]
    out += ["Costs follow mess.md §6.1: tolls and maintenance per km, wages for the whole trip, `energy` = depot "
            "electricity, `charging` = en-route electricity at the charger bus price (LMP) incl. fees, degradation "
            "of truck packs on trip arcs, of installed site packs and of idle packs (§4.1).", ""]
    xp_rows = [(r.method, r.info["ex_post"]) for r in runs if r.info.get("ex_post")]
    if xp_rows:
        out += ["## Ex-post wear assessment (§4.7, informational)", "",
                "Sum over all packs (`<method>/ex_post.csv` per pack): rainflow cycles (ASTM E1049) priced with "
                "the model's Φ, discharge episodes each priced as one cycle of its depth, the planned additive "
                "rule along the same trajectories and, for nmc/lfp, the exact nonlinear fade increment.", "",
                "| method | rainflow $ | episodes $ | planned $ | exact fade $ |", "|---|---|---|---|---|"]
        for m, d in xp_rows:
            out.append(f"| {m} | {_fmt(d.get('rainflow_cost'))} | {_fmt(d.get('episode_cost'))} | "
                       f"{_fmt(d.get('planned_cost'))} | {_fmt(d.get('cost_exact'))} |")
        out.append("")
    out += ["## Solver certificate and evaluator cross-check", ""]
    for r in runs:
        line = f"- `{r.method}`: status **{r.status}**"
        if r.objective is not None:
            line += f", objective {r.objective:,.6f} $"
        if r.lb is not None:
            line += f", LB {r.lb:,.6f} $"
        if r.gap is not None:
            line += f", gap {r.gap:.3g} $"
        if r.eval_diff is not None:
            line += f"; independent evaluator − solver = {r.eval_diff:.2e} $"
        if r.evaluation is not None:
            line += f"; invariant violations: {len(r.violations)}"
        if r.info.get("iterations") is not None:
            line += f"; CG iterations {r.info['iterations']}, columns {r.info.get('columns')}"
        out.append(line)
        for v in r.violations[:10]:
            out.append(f"  - violation: {v}")
    out.append("")
    if case.warnings:
        out += ["## Case warnings", ""]
        out += [f"- {w}" for w in case.warnings]
        out.append("")
    out += ["## Options", "", "```json", json.dumps(options, indent=2, sort_keys=True, default=str), "```", ""]
    if plots:
        out += ["## Plots", ""]
        out += [f"![{Path(p).stem}]({p})" for p in plots]
        out.append("")
    return "\n".join(out)


def report_html(md_text: str, comp: pd.DataFrame, plots: list[str], title: str) -> str:
    """report.html: the comparison table and the plots, plus the markdown report as preformatted text."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>",
             comp.to_html(index=False, float_format=lambda x: f"{x:,.2f}", na_rep="–")]
    for p in plots:
        parts.append(f"<h3>{html.escape(Path(p).stem)}</h3><img src='{html.escape(p)}' style='max-width:100%'>")
    parts.append("<h2>Full report</h2><pre>" + html.escape(md_text) + "</pre></body></html>")
    return "\n".join(parts)


def write_results(out: str | Path, case: MessCase, runs: list[MethodRun], *, model: str,
                  lmp: pd.DataFrame | None = None, options: dict[str, Any] | None = None, fmt: str = "csv",
                  plots: bool = True, extra_json: dict[str, Any] | None = None) -> Path:
    """Write the result folder of one case × degradation model (atomically).

    Parameters
    ----------
    out
        Target folder (replaced as a whole when complete).
    case, runs, model
        The case, the method outcomes (optimized first by convention) and the degradation model name.
    lmp
        Price table (bus, hour, price_per_kwh) for ``lmp.csv`` and the heatmap.
    options, extra_json
        Recorded in ``run.json`` (options also in ``report.md``).
    fmt
        ``csv`` or ``parquet`` for the tables.
    plots
        Write the PNG/SVG plots.
    """
    options = dict(options or {})
    comp = comparison_table(runs)
    with atomic_dir(out) as tmp:
        write_table(comp, tmp / "comparison.csv", fmt)
        all_tabs: dict[str, list[pd.DataFrame]] = {k: [] for k in ("trips", "legs", "charging", "site_soc",
                                                                  "truck_soc", "cost_breakdown")}
        for r in runs:
            if r.evaluation is None:
                continue
            ev = r.evaluation
            tabs = {"trips": trips_table(ev), "legs": legs_table(ev), "charging": charging_table(ev),
                    "site_soc": site_soc_table(ev), "truck_soc": truck_soc_table(ev),
                    "cost_breakdown": ev.per_truck().assign(method=r.method)}
            for k, df in tabs.items():
                write_table(df, tmp / r.method / f"{k}.csv", fmt)
                all_tabs[k].append(df)
            if r.violations:
                write_table(pd.DataFrame({"violation": r.violations}), tmp / r.method / "violations.csv", fmt)
            if len(ev.trips):
                xp = ex_post_table(ev)
                write_table(xp, tmp / r.method / "ex_post.csv", fmt)
                r.info["ex_post"] = {k: float(xp[k].sum()) for k in ("rainflow_cost", "episode_cost", "planned_cost",
                                                                     "cost_exact") if k in xp}
        for k, lst in all_tabs.items():
            if lst:
                df = pd.concat(lst, ignore_index=True)
                if k == "cost_breakdown":
                    df = df[["method", *[c for c in df.columns if c != "method"]]]
                write_table(df, tmp / f"{k}.csv", fmt)
        if lmp is not None:
            write_table(lmp, tmp / "lmp.csv", fmt)
        plot_files: list[str] = []
        if plots:
            from tenflow.mess import plots as P

            pdir = tmp / "plots"
            for r in runs:
                if r.evaluation is not None and len(r.evaluation.trips):
                    plot_files.append(str(P.route_map(case, r.evaluation, pdir, f"route_map_{r.method}")
                                          .relative_to(tmp)))
                    plot_files.append(str(P.soc_time(case, r.evaluation, pdir, f"soc_time_{r.method}")
                                          .relative_to(tmp)))
            if lmp is not None and len(lmp):
                plot_files.append(str(P.lmp_heatmap(lmp, pdir, title=f"{case.name}: prices by bus and hour")
                                      .relative_to(tmp)))
            if np.isfinite(comp["total"].astype(float)).any():
                plot_files.append(str(P.comparison_bars(comp, pdir, title=f"{case.name}, {model}")
                                      .relative_to(tmp)))
        md = report_markdown(case, runs, comp, model=model, plots=plot_files, options=options)
        atomic_write_text(tmp / "report.md", md)
        atomic_write_text(tmp / "report.html", report_html(md, comp, plot_files, f"MESS {case.name} {model}"))
        rec = provenance(
            case=case.name, case_hash=case_hash(case), degradation=model, options=options,
            seeds={"solver.seed": case.config.get("solver", {}).get("seed"),
                   "prices.prototype.da_seed": case.config.get("prices", {}).get("prototype", {}).get("da_seed")},
            methods={r.method: {"status": r.status, "objective": r.objective, "lb": r.lb,
                                "ub": r.objective, "gap": r.gap,
                                "evaluated_total": None if r.evaluation is None else r.evaluation.total,
                                "evaluator_minus_solver": r.eval_diff, "violations": len(r.violations),
                                "reason": r.reason, "runtime_s": r.runtime_s, **r.info} for r in runs},
            **(extra_json or {}),
        )
        write_json(tmp / "run.json", rec)
    return Path(out)
