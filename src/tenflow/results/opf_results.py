"""Tidy tables, plot and result folder of a multi-period OPF (omtepf.md §6.3 electrical series, §8.2 item 4).

Tables (one row per step and element, long format):

* ``buses``      step, bus, vr, vi, vm, va_deg, lambda_r, lambda_i, lmp, p_load, q_load, p_inj_fixed, q_inj_fixed
* ``lines``      step, line, from_bus, to_bus, ir_from, ii_from, i_from, ir_to, ii_to, i_to, p_from, q_from,
                 p_to, q_to, p_loss, q_loss
* ``loads``      step, load, bus, G, B, ir, ii, p, q, revenue
* ``generators`` step, generator, bus, ir, ii, i_mag, p, q, cost, cost_power_form
* ``steps``      step, objective, gen_cost, demand_revenue, p_gen, q_gen, p_load, p_fixed_inj, p_loss, vm_min,
                 vm_min_bus, vm_max, lmp_min, lmp_max

Powers are ``S = V conj(I)``: positive ``p_load`` = consumed, ``p_gen`` = produced, line ``p_from`` = power
entering the line at its from end; ``p_loss = p_from + p_to``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tenflow.formulations import ivacopf as iv
from tenflow.problems.opf import OPFResult
from tenflow.results.io import atomic_dir, provenance, write_json, write_table


def _long(steps: pd.Index, names: pd.Index, label: str, **cols: np.ndarray) -> pd.DataFrame:
    S, n = len(steps), len(names)
    out: dict[str, Any] = {"step": np.repeat(np.asarray(steps), n), label: np.tile(np.asarray(names, dtype=object), S)}
    for k, v in cols.items():
        out[k] = np.asarray(v).reshape(S * n) if np.ndim(v) == 2 else np.tile(np.asarray(v), S)
    return pd.DataFrame(out)


def opf_tables(res: OPFResult) -> dict[str, pd.DataFrame]:
    """All result tables of ``res`` (see module docstring)."""
    g, V, st = res.grid, res.V, res.steps
    steps = res.step_labels
    Yd = g.load_admittance()[st]
    vm = np.abs(V)
    S_load = vm**2 * np.conj(Yd)
    inj = g.fixed_injection()[st]
    S_inj = V * np.conj(inj)
    buses = _long(steps, g.buses, "bus", vr=V.real, vi=V.imag, vm=vm, va_deg=np.rad2deg(np.angle(V)),
                  lambda_r=res.lam.real, lambda_i=res.lam.imag, lmp=res.lmp, p_load=S_load.real, q_load=S_load.imag,
                  p_inj_fixed=S_inj.real, q_inj_fixed=S_inj.imag)
    If, It = res.line_currents()
    Sf = V[:, g.line_from] * np.conj(If)
    St = V[:, g.line_to] * np.conj(It)
    lines = _long(steps, g.line_ids, "line", from_bus=np.asarray(g.buses[g.line_from], dtype=object),
                  to_bus=np.asarray(g.buses[g.line_to], dtype=object), ir_from=If.real, ii_from=If.imag,
                  i_from=np.abs(If), ir_to=It.real, ii_to=It.imag, i_to=np.abs(It), p_from=Sf.real, q_from=Sf.imag,
                  p_to=St.real, q_to=St.imag, p_loss=(Sf + St).real, q_loss=(Sf + St).imag)
    Id = res.load_currents()
    Sd = V[:, g.load_bus] * np.conj(Id)
    q, w, gam = g.revenue_coefficients()
    Pd, Qd = Sd.real, Sd.imag
    rev = (g.load_alpha_p * Pd**2 + g.load_beta_p * Pd + g.load_alpha_q * Qd**2 + g.load_beta_q * Qd + g.load_gamma)
    loads = _long(steps, g.load_ids, "load", bus=np.asarray(g.buses[g.load_bus], dtype=object), G=g.load_G[st],
                  B=g.load_B[st], ir=Id.real, ii=Id.imag, p=Pd, q=Qd, revenue=rev)
    Sg = V[:, g.gen_bus] * np.conj(res.Ig)
    cost = iv.generator_cost(g, res.Ig)
    gens = _long(steps, g.gen_ids, "generator", bus=np.asarray(g.buses[g.gen_bus], dtype=object), ir=res.Ig.real,
                 ii=res.Ig.imag, i_mag=np.abs(res.Ig), p=Sg.real, q=Sg.imag, cost=cost,
                 cost_power_form=iv.generator_cost_power_form(g, V, res.Ig))
    imin = np.argmin(vm, axis=1)
    summary = pd.DataFrame({
        "step": np.asarray(steps), "objective": res.objective_steps, "gen_cost": cost.sum(axis=1),
        "demand_revenue": iv.demand_revenue(g, V, st), "p_gen": Sg.real.sum(axis=1), "q_gen": Sg.imag.sum(axis=1),
        "p_load": S_load.real.sum(axis=1), "p_fixed_inj": S_inj.real.sum(axis=1),
        "p_loss": (Sf + St).real.sum(axis=1), "vm_min": vm.min(axis=1),
        "vm_min_bus": np.asarray(g.buses[imin], dtype=object), "vm_max": vm.max(axis=1),
        "lmp_min": res.lmp.min(axis=1), "lmp_max": res.lmp.max(axis=1),
    })
    return {"buses": buses, "lines": lines, "loads": loads, "generators": gens, "steps": summary}


def plot_opf(res: OPFResult, path: str | Path) -> Path:
    """Voltages (all buses, min/max band) and generator active power over time, saved as PNG (Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = res.grid
    x = np.asarray(res.step_labels)
    vm = np.abs(res.V)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    ax1.plot(x, vm, color="0.75", lw=0.7)
    ax1.plot(x, vm.max(axis=1), color="C3", lw=1.5, label="max |V|")
    ax1.plot(x, vm.min(axis=1), color="C0", lw=1.5, label="min |V|")
    ax1.axhline(float(np.max(g.vmax)), color="k", ls="--", lw=0.8)
    ax1.axhline(float(np.min(g.vmin)), color="k", ls="--", lw=0.8)
    ax1.set_ylabel("|V| [p.u.]")
    ax1.set_title(f"OPF '{g.name}' ({res.method}, objective {res.objective:.4g})")
    ax1.legend(loc="best", fontsize=8)
    Sg = res.V[:, g.gen_bus] * np.conj(res.Ig)
    for j, gid in enumerate(g.gen_ids):
        ax2.plot(x, Sg[:, j].real, label=f"P {gid}")
        ax2.plot(x, Sg[:, j].imag, ls=":", label=f"Q {gid}")
    ax2.set_xlabel("step k")
    ax2.set_ylabel("generator power [p.u.]")
    ax2.legend(loc="best", fontsize=8)
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, p)
    return p


def write_opf_results(res: OPFResult, out: str | Path, fmt: str = "csv", *, source: str | None = None,
                      extra: dict[str, Any] | None = None) -> Path:
    """Write the tables, the plot ``opf.png`` and ``run.json`` (provenance) into ``out`` atomically."""
    tables = opf_tables(res)
    with atomic_dir(out) as tmp:
        for name, df in tables.items():
            write_table(df, tmp / name, fmt=fmt)
        plot_opf(res, tmp / "opf.png")
        write_json(tmp / "run.json", provenance(
            command="opf", case=res.grid.name, source=source, method=res.method, solver=res.solver,
            status=res.status, objective=res.objective, iterations=res.iterations, history=res.history,
            build_s=res.build_s, solve_s=res.solve_s, steps=len(res.steps), program=res.info.get("program"),
            kcl_residual=res.kcl_residual(), format=fmt, **(extra or {})))
    return Path(out)
