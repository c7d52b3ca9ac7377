"""MESS plots (mess.md §7): route map, SoC over time, LMP heatmap, comparison bars (matplotlib Agg, PNG + SVG).

Every function takes already-evaluated data (an :class:`~tenflow.mess.evaluate.Evaluation` or tables) and writes
``<stem>.png`` and ``<stem>.svg`` into a folder; it returns the PNG path. Figures are closed after writing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from tenflow.mess.case import MessCase  # noqa: E402
from tenflow.mess.evaluate import COST_COLUMNS, Evaluation, _key  # noqa: E402

ROLE_STYLE = {"depot": ("s", "black"), "charger": ("^", "tab:green"), "site": ("o", "tab:orange"),
              "junction": (".", "gray")}
# deterministic SVG output (no random ids / dates)
matplotlib.rcParams["svg.hashsalt"] = "tenflow"
_META_SVG = {"Date": None}
_META_PNG = {"Software": None}


def _save(fig: Any, folder: Path, stem: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{stem}.png"
    fig.tight_layout()
    fig.savefig(png, dpi=100, metadata=_META_PNG)
    fig.savefig(folder / f"{stem}.svg", metadata=_META_SVG)
    plt.close(fig)
    return png


_LAYOUTS: dict[tuple[Any, ...], dict[str, tuple[float, float]]] = {}


def node_positions(case: MessCase) -> dict[str, tuple[float, float]]:
    """Plot coordinates: ``nodes.x/y`` if all given, else a Kamada–Kawai layout on arc lengths (networkx if
    installed, else a circle). Cached per network."""
    key = (tuple(map(_key, case.nodes["id"])), tuple(map(_key, case.arcs["from"])),
           tuple(map(_key, case.arcs["to"])), tuple(case.arcs["length_km"]))
    if key not in _LAYOUTS:
        _LAYOUTS[key] = _node_positions(case)
    return _LAYOUTS[key]


def _node_positions(case: MessCase) -> dict[str, tuple[float, float]]:
    n = case.nodes
    keys = [_key(i) for i in n["id"]]
    if "x" in n and "y" in n and n["x"].notna().all() and n["y"].notna().all():
        return {k: (float(x), float(y)) for k, x, y in zip(keys, n["x"], n["y"], strict=True)}
    try:
        import networkx as nx

        g = nx.Graph()
        g.add_nodes_from(keys)
        for a, b, d in zip(case.arcs["from"], case.arcs["to"], case.arcs["length_km"], strict=True):
            ka, kb = _key(a), _key(b)
            if g.has_edge(ka, kb):
                g[ka][kb]["weight"] = min(g[ka][kb]["weight"], float(d))
            else:
                g.add_edge(ka, kb, weight=float(d))
        pos = nx.kamada_kawai_layout(g, weight="weight")
        return {k: (float(v[0]), float(v[1])) for k, v in pos.items()}
    except ImportError:  # pragma: no cover - networkx ships with pandapower
        ang = np.linspace(0, 2 * np.pi, len(keys), endpoint=False)
        return {k: (float(np.cos(a)), float(np.sin(a))) for k, a in zip(keys, ang, strict=True)}


def route_map(case: MessCase, ev: Evaluation, folder: Path, stem: str = "route_map") -> Path:
    """Nodes by role, roads, one colour per trip (travel arcs), charging stops marked."""
    pos = node_positions(case)
    roles = {_key(i): str(r) for i, r in zip(case.nodes["id"], case.nodes["role"], strict=True)}
    names = {_key(i): str(nm) for i, nm in zip(case.nodes["id"], case.nodes["name"], strict=True)}
    fig, ax = plt.subplots(figsize=(9, 7))
    for a, b in zip(case.arcs["from"], case.arcs["to"], strict=True):
        pa, pb = pos[_key(a)], pos[_key(b)]
        ax.plot([pa[0], pb[0]], [pa[1], pb[1]], color="0.85", lw=1.0, zorder=1)
    trips = sorted(ev.arcs["trip"].unique())
    cmap = plt.get_cmap("tab20")
    span = max(1e-9, max(abs(p[0]) + abs(p[1]) for p in pos.values()))
    for i, t in enumerate(trips):
        g = ev.arcs[(ev.arcs["trip"] == t) & (ev.arcs["kind"] == "travel")]
        off = (i - len(trips) / 2) * min(0.004, 0.03 / max(len(trips), 1)) * span
        tcol = cmap(i % 20)
        for _, r in g.iterrows():
            pa, pb = pos[_key(r["frm"])], pos[_key(r["to"])]
            ax.annotate("", xy=(pb[0] + off, pb[1] + off), xytext=(pa[0] + off, pa[1] + off),
                        arrowprops={"arrowstyle": "->", "color": tcol, "lw": 1.2, "alpha": 0.8}, zorder=2)
    ch = ev.arcs[ev.arcs["kind"] == "charge"]
    if len(ch):
        stops = ch.groupby(ch["frm"].map(_key)).size()
        for k, cnt in stops.items():
            p = pos[k]
            ax.scatter([p[0]], [p[1]], s=60 + 25 * cnt, facecolors="none", edgecolors="tab:red", lw=1.5, zorder=3)
    for k, p in pos.items():
        mk, col = ROLE_STYLE.get(roles.get(k, "junction"), (".", "gray"))
        ax.scatter([p[0]], [p[1]], marker=mk, c=col, s=90, zorder=4)
        ax.annotate(f"{k} {names.get(k, '')}", p, textcoords="offset points", xytext=(6, 6), fontsize=7)
    for role, (mk, col) in ROLE_STYLE.items():
        if role in roles.values():
            ax.scatter([], [], marker=mk, c=col, label=role)
    ax.scatter([], [], facecolors="none", edgecolors="tab:red", label="charging stop")
    ax.legend(loc="best", fontsize=8)
    ax.set_title(f"{case.name}: routes of {ev.method} ({len(trips)} trips)")
    ax.set_axis_off()
    return _save(fig, folder, stem)


def soc_time(case: MessCase, ev: Evaluation, folder: Path, stem: str = "soc_time") -> Path:
    """Truck packs (per trip, arc ends) and site packs (exact energy on the grid) over time; reserves and swap
    windows shaded."""
    ctx = ev.ctx
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(11, 8), sharex=True)
    cmap = plt.get_cmap("tab20")
    for i, (_t, g) in enumerate(ev.arcs.groupby("trip", sort=True)):
        x = np.concatenate([[g["t_from"].iloc[0]], g["t_to"].to_numpy()])
        y = np.concatenate([[g["q_from"].iloc[0]], g["q_to"].to_numpy()]) / ctx.L
        a1.plot(x, 100 * y, color=cmap(i % 20), lw=1.0)
    for ti in ctx.types.values():
        a1.axhline(100 * ti.qmin / ctx.L, color="tab:red", ls=":", lw=0.8)
    a1.axhline(100 * ctx.s_dep, color="0.5", ls="--", lw=0.8)
    a1.set_ylabel("truck pack SoC (%)")
    a1.set_title(f"{case.name} — {ev.method}: truck packs (one line per trip)")
    ss = ev.site_soc
    for i, (s, g) in enumerate(ss.groupby("site", sort=False)):
        a2.plot(g["time"], 100 * g["soc"], color=cmap(i % 20), lw=1.2, label=f"site {s}")
    ws = min(si.ws for si in ctx.sites.values()) if ctx.sites else ctx.start
    we = max(si.we for si in ctx.sites.values()) if ctx.sites else ctx.end
    a2.axvspan(ws, we, color="tab:blue", alpha=0.06, label="swap windows")
    res = sorted({si.reserve_kwh / si.pack_kwh for si in ctx.sites.values()})
    for r in res:
        a2.axhline(100 * r, color="tab:red", ls="--", lw=0.8)
    a2.set_ylabel("site pack SoC (%)")
    a2.set_xlabel("clock time (h)")
    a2.legend(fontsize=7, ncol=4, loc="lower left")
    a2.set_xlim(ctx.start, ctx.end)
    return _save(fig, folder, stem)


def lmp_heatmap(lmp: pd.DataFrame, folder: Path, stem: str = "lmp_heatmap", title: str = "") -> Path:
    """Price ($/kWh) per bus (rows) and hour (columns)."""
    piv = lmp.pivot(index="bus", columns="hour", values="price_per_kwh")
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(piv) + 1.6))
    im = ax.imshow(piv.to_numpy(float), aspect="auto", cmap="viridis")
    ax.set_yticks(range(len(piv)), [str(b) for b in piv.index])
    ax.set_xticks(range(len(piv.columns)), [str(h) for h in piv.columns], fontsize=7)
    ax.set_xlabel("hour")
    ax.set_ylabel("bus")
    fig.colorbar(im, ax=ax, label="$/kWh")
    ax.set_title(title or "charging prices (LMP) by bus and hour")
    return _save(fig, folder, stem)


def comparison_bars(comp: pd.DataFrame, folder: Path, stem: str = "comparison_bars", title: str = "") -> Path:
    """Stacked cost breakdown per method (rows of the comparison table with a finite total)."""
    ok = comp[np.isfinite(comp["total"].astype(float))]
    fig, ax = plt.subplots(figsize=(7, 5))
    bottom = np.zeros(len(ok))
    cmap = plt.get_cmap("tab10")
    for i, c in enumerate(COST_COLUMNS):
        v = ok[c].to_numpy(float)
        ax.bar(ok["method"], v, bottom=bottom, label=c, color=cmap(i))
        bottom += v
    if "end_credit" in ok and (ok["end_credit"] > 0).any():
        ax.bar(ok["method"], -ok["end_credit"].to_numpy(float), label="end credit", color="0.6")
    for x, t in zip(ok["method"], ok["total"], strict=True):
        ax.annotate(f"{t:,.0f} $", (x, float(t)), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8)
    ax.set_ylabel("$ per day")
    ax.set_title(title or "cost breakdown by method")
    ax.legend(fontsize=7)
    return _save(fig, folder, stem)
