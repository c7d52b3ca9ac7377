"""OMTEPF figures (omtepf.md §6.3): Fig. 8-like electrical time series, Fig. 9-like congestion time series.

Both figures overlay every evaluation given (typically uncoordinated and coordinated). Rendering uses
matplotlib's object API with the Agg canvas (no pyplot global state, no display needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tenflow.results.omtepf_eval import Evaluation

_STYLE = {"uncoordinated": dict(color="tab:red", ls="-"), "coordinated": dict(color="tab:blue", ls="--")}


def _style(mode: str, i: int) -> dict[str, str]:
    return _STYLE.get(mode, dict(color=f"C{i}", ls="-"))


def _xticks(ax, ev: Evaluation) -> None:  # type: ignore[no-untyped-def]
    ts = ev.timeseries
    clocks = ts["clock"].astype(str).tolist()
    idx = np.array([i for i, c in enumerate(clocks) if c.endswith(":00") and int(c[:2]) % 2 == 0], dtype=int)
    if len(idx) < 3:
        idx = np.arange(0, len(ts), max(1, len(ts) // 8))
    ax.set_xticks(ts["k"].to_numpy()[idx])
    ax.set_xticklabels(ts["clock"].to_numpy()[idx], rotation=0, fontsize=7)


def _save(fig: Figure, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp.png")
    FigureCanvasAgg(fig)
    fig.savefig(tmp, dpi=120)
    tmp.replace(p)
    return p


def plot_power(evals: Sequence[Evaluation], path: str | Path) -> Path:
    """Fig. 8-like: generator, PV, charging and demand power and min/max voltage per step, all modes.

    Evaluations without a grid part are skipped (an empty panel says so).
    """
    panels = [("P_gen", "Generator power [p.u.]"), ("P_pv", "PV power [p.u.]"),
              ("P_charging", "Charging power [p.u.]"), ("P_demand", "Demand power [p.u.]")]
    fig = Figure(figsize=(9, 11))
    axes = fig.subplots(len(panels) + 1, 1, sharex=True)
    with_grid = [e for e in evals if "P_gen" in e.timeseries.columns]
    for ax, (col, title) in zip(axes, panels, strict=False):
        for i, e in enumerate(with_grid):
            ts = e.timeseries
            ax.step(ts["k"], ts[col], where="post", label=e.mode, **_style(e.mode, i))
        ax.set_ylabel(title, fontsize=8)
        ax.grid(alpha=0.3)
    ax = axes[-1]
    for i, e in enumerate(with_grid):
        ts = e.timeseries
        st = _style(e.mode, i)
        ax.step(ts["k"], ts["v_max"], where="post", label=f"{e.mode} max |V|", color=st["color"], ls=st["ls"])
        ax.step(ts["k"], ts["v_min"], where="post", label=f"{e.mode} min |V|", color=st["color"], ls=st["ls"],
                alpha=0.6)
    ax.set_ylabel("Voltage [p.u.]", fontsize=8)
    ax.grid(alpha=0.3)
    if with_grid:
        _xticks(ax, with_grid[0])
        axes[0].legend(fontsize=8)
        ax.legend(fontsize=7, ncol=2)
    else:
        axes[0].set_title("no grid solution available")
    ax.set_xlabel("time")
    fig.suptitle("Electrical time series (Fig. 8)")
    fig.tight_layout()
    return _save(fig, path)


def plot_congestion(evals: Sequence[Evaluation], path: str | Path) -> Path:
    """Fig. 9-like: road, parking and charging congestion and system queue per step, all modes."""
    panels = [("road", "EVs on roads"), ("parking", "EVs parked"),
              ("charging", "EVs charging (plug-in + wireless)"), ("queue", "EVs queued")]
    fig = Figure(figsize=(9, 9))
    axes = fig.subplots(len(panels), 1, sharex=True)
    for ax, (col, title) in zip(axes, panels, strict=False):
        for i, e in enumerate(evals):
            ts = e.timeseries
            ax.step(ts["k"], ts[col], where="post", label=e.mode, **_style(e.mode, i))
        ax.set_ylabel(title, fontsize=8)
        ax.grid(alpha=0.3)
    if evals:
        _xticks(axes[-1], evals[0])
        axes[0].legend(fontsize=8)
    axes[-1].set_xlabel("time")
    fig.suptitle("Transportation time series (Fig. 9)")
    fig.tight_layout()
    return _save(fig, path)
