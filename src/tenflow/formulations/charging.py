"""Charging block of the OMTEPF: charging capabilities, SoC operand net and KCL coupling.

Implements omtepf.md §3.4 (operand net per EV: charge / hold / discharge with the synchronisation ratios of
Table V, ``U^-_L = D^- U^-``; durations zero so ``Q_EL = 0``), the five charging modalities of Table I

* ``home`` — private residential charger (charge ``rate`` units per step),
* ``com`` — commercial charger (plugs limit),
* ``inductive`` — wireless charging while driving on an electrified arc,
* ``wire`` — charging by wire while moving (catenary), same algebra as inductive,
* ``v2g`` — discharging / vehicle-to-grid: removes ``rate`` units, *injects* its current (drawn current is
  negative), priced with the charger's own ``revenue_per_unit``,

the wireless semantics option (``options.wireless_net_soc``: 0 = semantics A, charge and deplete, net
``charge_rate - depletion``; 2 = semantics B, charge only), the charging revenue (eq. 63) and the coupling of
charging currents into the KCL rows of the IV-ACOPF (eq. 47 top rows, ``M^-_EC``: current drawn at the
capability's bus during the step in which it starts).

V2G pricing (our convention, documented in the case schema): the energy an EV gives back is refunded at the
charging tariff ``c_C`` (net billing, so ``R_C`` stays the revenue of energy sold for driving and
eq. 66 ``R_C = C_T`` keeps holding for the net charge) and the system values each discharged unit at the v2g
charger's ``revenue_per_unit``. Per v2g firing the objective therefore gains ``(revenue_per_unit - c_C) * rate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tenflow.case import Case
from tenflow.case import derived as D
from tenflow.solve.program import Program, VarBlock

if TYPE_CHECKING:
    from tenflow.formulations.transport import FiringSet, Fleet, TransportVars

Array = np.ndarray

_KIND = {"home": "home", "commercial": "com", "v2g": "v2g"}


def electrified_capabilities(case: Case, arcs: pd.DataFrame, buf: pd.Index, bus: pd.Index, n_ev: int,
                             keep: set[str]) -> tuple[pd.DataFrame, Array]:
    """Charge-while-driving capabilities (one per EV and electrified arc), Table V row "wireless".

    Returns the capability rows and, per row, the arc position (for the road-capacity resource).
    """
    from tenflow.formulations.transport import CAP_COLUMNS

    mode = arcs["charge_mode"].to_numpy(dtype=object)
    el = np.flatnonzero(np.isin(mode, [m for m in ("inductive", "wire") if m in keep]))
    if len(el) == 0:
        return pd.DataFrame({c: [] for c in CAP_COLUMNS}), np.zeros(0, int)
    net_b = int(case.options.get("wireless_net_soc", 0)) != 0
    vi = np.repeat(np.arange(n_ev), len(el))
    ai = np.tile(el, n_ev)
    dep = arcs["depletion"].to_numpy(dtype=float)[ai]
    rate_c = arcs["charge_rate"].to_numpy(dtype=float)[ai]
    discharge = np.zeros_like(dep) if net_b else dep
    c_C = float(case.costs["c_C"])
    df = pd.DataFrame({
        "ev": vi, "kind": mode[ai], "component": arcs["road"].to_numpy(dtype=object)[ai],
        "origin": buf.get_indexer(arcs["origin"])[ai], "dest": buf.get_indexer(arcs["dest"])[ai],
        "duration": arcs["travel_steps"].to_numpy(dtype=int)[ai], "cost": arcs["cost"].to_numpy(dtype=float)[ai],
        "charge": rate_c, "discharge": discharge, "rate": rate_c - discharge,
        "current_re": arcs["current_re"].to_numpy(dtype=float)[ai],
        "current_im": arcs["current_im"].to_numpy(dtype=float)[ai],
        "bus": bus.get_indexer(arcs["charge_bus"].astype(object))[ai],
        "revenue": c_C * rate_c,
    })
    return df[list(CAP_COLUMNS)], ai


def charger_capabilities(case: Case, buf: pd.Index, bus: pd.Index, keep: set[str]) -> tuple[pd.DataFrame, Array]:
    """Charger capabilities (one per eligible (charger, EV) pair), Table V rows home / commercial, plus v2g.

    Returns the capability rows and, per row, the charger position (for the plugs resource).
    """
    from tenflow.formulations.transport import CAP_COLUMNS

    ch = case.chargers
    if len(ch) == 0:
        return pd.DataFrame({c: [] for c in CAP_COLUMNS}), np.zeros(0, int)
    el = D.eligibility(case, ch)
    ci, vi = np.nonzero(el)
    kind = np.array([_KIND[str(t)] for t in ch["type"]], dtype=object)[ci]
    sel = np.isin(kind, list(keep))
    ci, vi, kind = ci[sel], vi[sel], kind[sel]
    rate = ch["rate"].to_numpy(dtype=float)[ci]
    v2g = kind == "v2g"
    sign = np.where(v2g, -1.0, 1.0)
    b = buf.get_indexer(ch["buffer"].astype(str))[ci]
    price = ch["revenue_per_unit"].to_numpy(dtype=float)[ci]
    c_C = float(case.costs["c_C"])
    df = pd.DataFrame({
        "ev": vi, "kind": kind, "component": ch["id"].astype(str).to_numpy()[ci], "origin": b, "dest": b,
        "duration": 1, "cost": 0.0,
        "charge": np.where(v2g, 0.0, rate), "discharge": np.where(v2g, rate, 0.0), "rate": sign * rate,
        "current_re": sign * ch["current_re"].to_numpy(dtype=float)[ci],
        "current_im": sign * ch["current_im"].to_numpy(dtype=float)[ci],
        "bus": bus.get_indexer(ch["buffer"].astype(str))[ci],
        "revenue": np.where(v2g, (price - c_C) * rate, price * rate),
    })
    return df[list(CAP_COLUMNS)], ci


# ---------------------------------------------------------------------------------------------- SoC net
@dataclass
class SocVars:
    """SoC marking block ``soc[v, k]`` for markings ``k = k0..k1`` (EV-major)."""

    soc: VarBlock
    k0: int
    k1: int


def add_soc(prog: Program, tv: TransportVars, *, soc_start: Array | None = None, soc_end: Array | None = None,
            soc_min: float | Array = 0.0) -> SocVars:
    """SoC operand net (omtepf.md §3.4, eqs. 11–15, 46, 48) in reduced form.

    ``soc[v,k+1] = soc[v,k] + sum_f rate_f x_f`` where ``rate = charge - discharge`` are the Table V ratios
    of ``D^-``; ``soc_min <= soc <= battery`` (§3.6 item 4); ``soc[k0] = soc_start`` (default the EVs'
    ``soc_init``) and, if given, ``soc[k1] = soc_end`` (final condition, eq. 19).
    """
    fleet, fs = tv.fleet, tv.fs
    V = fleet.n_ev
    T = fs.k1 - fs.k0
    idx = pd.MultiIndex.from_product([fleet.ev_ids, np.arange(fs.k0, fs.k1 + 1)], names=["ev", "k"])
    lo = np.broadcast_to(np.asarray(soc_min, float), (V,))
    lb = np.repeat(lo, T + 1)
    ub = np.repeat(fleet.battery, T + 1)
    s0 = fleet.soc_init if soc_start is None else np.asarray(soc_start, float)
    first = np.arange(V) * (T + 1)
    lb[first] = s0
    ub[first] = s0
    if soc_end is not None:
        last = first + T
        lb[last] = np.asarray(soc_end, float)
        ub[last] = np.asarray(soc_end, float)
    s = prog.add_vars("soc", idx, lb=lb, ub=ub)
    rows_v = np.repeat(np.arange(V), T)
    rows_t = np.tile(np.arange(T), V)
    nr = V * T
    # soc[v,t+1] - soc[v,t]
    S = sp.csr_matrix((np.r_[np.ones(nr), -np.ones(nr)],
                       (np.r_[np.arange(nr), np.arange(nr)],
                        np.r_[rows_v * (T + 1) + rows_t + 1, rows_v * (T + 1) + rows_t])), shape=(nr, V * (T + 1)))
    c = fleet.caps
    ev = c["ev"].to_numpy()[fs.x_cap]
    rate = c["rate"].to_numpy(dtype=float)[fs.x_cap]
    nz = rate != 0
    X = sp.csr_matrix((-rate[nz], (ev[nz] * T + (fs.x_k[nz] - fs.k0), np.flatnonzero(nz))), shape=(nr, fs.n_x))
    prog.add_rows("soc_dynamics", [(s, S), (tv.x, X)], lo=0.0, hi=0.0)
    return SocVars(soc=s, k0=fs.k0, k1=fs.k1)


def add_charging_revenue(prog: Program, tv: TransportVars) -> None:
    """Charging revenue ``-R_C`` (eq. 63; v2g convention in the module docstring) on the firings."""
    c = tv.fleet.caps
    rev = c["revenue"].to_numpy(dtype=float)[tv.fs.x_cap]
    if np.any(rev != 0):
        prog.add_objective(tv.x, -rev)


def current_matrices(fleet: Fleet, fs: FiringSet, steps: Array) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Charging currents drawn per (step, bus) as linear maps of the firings (``M^-_EC``, eq. 47).

    Rows are ``t * n_bus + bus`` with ``t`` the position of the firing's step in ``steps``; returns the
    real and imaginary parts ``(Jr, Ji)`` (drawn current; v2g injection negative).
    """
    c = fleet.caps
    steps = np.asarray(steps)
    nb = len(fleet.bus_ids)
    pos = pd.Index(steps).get_indexer(fs.x_k)
    bus = c["bus"].to_numpy()[fs.x_cap]
    ok = (bus >= 0) & (pos >= 0)
    cols = np.flatnonzero(ok)
    rows = pos[ok] * nb + bus[ok]
    shape = (len(steps) * nb, fs.n_x)
    Jr = sp.csr_matrix((c["current_re"].to_numpy(dtype=float)[fs.x_cap][ok], (rows, cols)), shape=shape)
    Ji = sp.csr_matrix((c["current_im"].to_numpy(dtype=float)[fs.x_cap][ok], (rows, cols)), shape=shape)
    return Jr, Ji


def currents_of_firings(fleet: Fleet, firings: pd.DataFrame, K: int) -> Array:
    """Total drawn charging current per (step, bus) of a firing table, complex array ``(K, n_bus)``."""
    out = np.zeros((K, len(fleet.bus_ids)), dtype=complex)
    f = firings[firings["bus"].notna()]
    if len(f):
        b = fleet.bus_ids.get_indexer(f["bus"].astype(object))
        np.add.at(out, (f["k"].to_numpy(dtype=int), b),
                  f["current_re"].to_numpy(dtype=float) + 1j * f["current_im"].to_numpy(dtype=float))
    return out
