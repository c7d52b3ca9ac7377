"""OMTEPF problems: short build functions listing the blocks they use, and :func:`run`.

Like PowerModels' ``build_opf_iv``, each build function only lists formulation blocks:

* :func:`build_transport` — EV transport (:mod:`tenflow.formulations.transport`) + SoC operand net
  (:mod:`tenflow.formulations.charging`), the uncoordinated stage-1 MILP of omtepf.md §5.1;
* :func:`build_coordinated` — transport + SoC + charging revenue + IV-ACOPF over all steps with the charging
  currents coupled into KCL (:mod:`tenflow.formulations.ivacopf`), objective eq. 67 (§3.9 coordinated).

:func:`run` dispatches to :mod:`tenflow.problems.uncoordinated` or :mod:`tenflow.problems.coordinated` and
returns an :class:`~tenflow.problems.omtepf_solution.OmtepfSolution`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tenflow.case import Case
from tenflow.formulations import charging as CH
from tenflow.formulations import ivacopf as iv
from tenflow.formulations import transport as TR
from tenflow.formulations.grid_data import GridData, grid_from_case
from tenflow.problems.omtepf_solution import OmtepfSolution
from tenflow.solve.program import Program

Array = np.ndarray


_LAST_UNCOORDINATED: dict[str, Any] = {}


def run(case: Case, mode: str = "coordinated", **kwargs: Any) -> OmtepfSolution:
    """Solve one operating mode of the OMTEPF (omtepf.md §3.9) on ``case``.

    ``mode`` is ``"uncoordinated"`` (transport MILPs → charge-ASAP heuristic → per-step IV-ACOPF) or
    ``"coordinated"`` (one mixed-integer convex program, eq. 67). Keyword arguments go to the mode's ``run``
    (``gap`` is accepted as an alias of the coordinated ``rel_gap``). The coordinated mode is warm-started from
    the uncoordinated solution of the *same case object* when this function computed it before (no re-solve).
    """
    if "gap" in kwargs:
        g = kwargs.pop("gap")
        if mode == "coordinated" and g is not None:
            kwargs["rel_gap"] = g
    if mode == "uncoordinated":
        from tenflow.problems import uncoordinated

        sol = uncoordinated.run(case, **kwargs)
        _LAST_UNCOORDINATED.clear()
        _LAST_UNCOORDINATED["case"], _LAST_UNCOORDINATED["solution"] = case, sol
        return sol
    if mode == "coordinated":
        from tenflow.problems import coordinated

        if "warm_start" not in kwargs and _LAST_UNCOORDINATED.get("case") is case:
            kwargs["warm_start"] = _LAST_UNCOORDINATED["solution"]
        return coordinated.run(case, **kwargs)
    raise ValueError(f"mode must be 'uncoordinated' or 'coordinated', not {mode!r}")


# ---------------------------------------------------------------------------------------------- builders
def build_transport(fleet: TR.Fleet, k0: int, k1: int, start: Array, soc0: Array) -> tuple[Program, TR.TransportVars]:
    """Uncoordinated transport MILP (§5.1): park/road firings, idle, capacities, ``SOC >= 0`` tracking."""
    fs = TR.firing_set(fleet, k0, k1, start, kinds=("park", "road"))
    prog = Program(f"transport:{k0}-{k1 - 1}")
    tv = TR.add_transport(prog, fleet, fs)
    CH.add_soc(prog, tv, soc_start=soc0)
    return prog, tv


@dataclass
class CoordinatedModel:
    """The coordinated program and its blocks."""

    prog: Program
    tv: TR.TransportVars
    soc: CH.SocVars
    net: iv.IVNetwork
    grid: GridData
    fleet: TR.Fleet
    coupling: sp.csr_matrix  # KCL injection of the firings (rows as the KCL block)
    v_hat: Array  # linearisation point of the demand revenue (S, N)


def kcl_coupling(fleet: TR.Fleet, fs: TR.FiringSet, grid: GridData, steps: Array) -> sp.csr_matrix:
    """Injected current of the firings in the KCL rows of :mod:`tenflow.formulations.ivacopf` (eq. 47).

    KCL row order is ``s*2N + p*N + n``; a drawn current enters with a negative sign (``-M^-_EC``).
    """
    Jr, Ji = CH.current_matrices(fleet, fs, steps)
    N = grid.n_bus
    nb = len(fleet.bus_ids)
    busmap = pd.Index([str(b) for b in grid.buses]).get_indexer([str(b) for b in fleet.bus_ids])
    if (busmap < 0).any():
        raise ValueError("charging buses missing from the grid")
    S = len(steps)
    out = []
    for part, J in ((0, Jr), (1, Ji)):
        C = J.tocoo()
        s = C.row // nb
        b = busmap[C.row % nb]
        out.append(sp.csr_matrix((-C.data, (s * 2 * N + part * N + b, C.col)), shape=(S * 2 * N, fs.n_x)))
    return (out[0] + out[1]).tocsr()


def build_coordinated(case: Case, fleet: TR.Fleet | None = None, *, prune: bool = True,
                      v_hat: Array | None = None, grid: GridData | None = None) -> CoordinatedModel:
    """The coordinated OMTEPF (§3.3–3.7, objective eq. 67) as one mixed-integer conic program.

    Blocks: EV transport (conservation, windows, capacities, ``C_T + C_Q``), SoC operand net with initial and
    final conditions, charging revenue ``-R_C``, IV-ACOPF for every step (generator cost via cones, voltage
    cones, secant, one-way lines, demand revenue tangent at ``v_hat``) with the charging currents of the firings
    in KCL. ``C_S`` is a constant and omitted.
    """
    fleet = TR.build_fleet(case) if fleet is None else fleet
    grid = grid_from_case(case) if grid is None else grid
    fs = TR.firing_set(fleet, 0, fleet.K, prune=prune)
    prog = Program(f"omtepf:{case.name}")
    tv = TR.add_transport(prog, fleet, fs)
    soc = CH.add_soc(prog, tv, soc_end=fleet.soc_final)
    CH.add_charging_revenue(prog, tv)
    steps = np.arange(grid.K)
    coupling = kcl_coupling(fleet, fs, grid, steps)
    v_hat = np.ones((len(steps), grid.n_bus), dtype=complex) if v_hat is None else np.asarray(v_hat, dtype=complex)
    net = iv.add_iv_network(prog, grid, steps, extra_injections=[(tv.x, coupling)], revenue="tangent", v_hat=v_hat)
    return CoordinatedModel(prog=prog, tv=tv, soc=soc, net=net, grid=grid, fleet=fleet, coupling=coupling,
                            v_hat=v_hat)


# ---------------------------------------------------------------------------------------------- grid stage
def grid_opf(case: Case, fleet: TR.Fleet, firings: pd.DataFrame, *, revenue: str | None = None,
             starts: tuple[float, ...] = (1.0, 1.1), grid: GridData | None = None
             ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Per-step IV-ACOPF with the charging currents of ``firings`` fixed (§5.3); voltages, generator currents.

    ``revenue`` defaults to the case's ``options.revenue_mode`` (``ccp``, ``tangent``, or ``exact`` with SCIP).
    """
    from tenflow.problems import opf

    if revenue is None:
        revenue = str(case.options.get("revenue_mode", "ccp"))
    grid = grid_from_case(case) if grid is None else grid
    J = CH.currents_of_firings(fleet, firings, grid.K)  # (K, n_bus of fleet), drawn
    busmap = pd.Index([str(b) for b in grid.buses]).get_indexer([str(b) for b in fleet.bus_ids])
    extra = np.array(grid.extra_injection, dtype=complex, copy=True)
    np.add.at(extra.T, busmap, -J.T)
    g2 = grid.with_options(extra_injection=extra)
    res = opf.solve(g2, revenue=revenue, starts=starts)
    return (voltage_frame(grid, res.V), gen_frame(grid, res.Ig),
            {"objective": res.objective, "iterations": res.iterations, "solve_s": res.solve_s,
             "build_s": res.build_s, "method": res.method, "kcl_residual": res.kcl_residual()})


def voltage_frame(grid: GridData, V: Array) -> pd.DataFrame:
    K, N = V.shape
    return pd.DataFrame({"bus": np.tile(np.asarray(grid.buses, dtype=object).astype(str), K),
                         "k": np.repeat(np.asarray(grid.steps[:K]), N), "vr": V.real.ravel(), "vi": V.imag.ravel()})


def gen_frame(grid: GridData, Ig: Array) -> pd.DataFrame:
    K, G = Ig.shape
    return pd.DataFrame({"gen": np.tile(np.asarray(grid.gen_ids, dtype=object).astype(str), K),
                         "k": np.repeat(np.asarray(grid.steps[:K]), G), "ir": Ig.real.ravel(), "ii": Ig.imag.ravel()})
