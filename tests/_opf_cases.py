"""Shared inputs of the OPF tests: a synthetic EV-charging draw on Symmetrica-lite.

The draw imitates the uncoordinated schedule of omtepf.md §5.2 (morning wireless traversals at the four
hub intersections and commercial charging at bus 17, evening home charging at the 16 neighbourhoods;
0.04/0.08 p.u. per EV at pf 0.9 lagging, §2.2) so that some steps have the generator voltage below its
bound (voltage limit at bus 9 binding), as in §4.6.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from omtepf_spec_case import LINES, sigma
from tenflow.formulations.grid_data import GridData

U = 0.9 - 0.43589j


def symmetrica_lite_grid(K: int = 57, *, one_way: bool = True) -> GridData:
    """The Symmetrica-lite grid built directly from the numbers printed in omtepf.md §2.3, §4.3 and §4.5
    (test-side transcription, independent of the shipped case files and of ``grid_from_case``).

    26 buses (labels 1..26), 25 lines, generator at bus 18 (reference), 17 PV panels (buses 1..17,
    ``I_s = 0.12 sigma(k) (0.9 - j 0.43589)``), 25 admittance loads (pf 0.9 inductive), cost
    ``a=0.01, b=0.1, c=0``, demand revenue ``beta_P = 0.5``, ``V in [0.9, 1.1]``, secant angle 0,
    generator box ``0 <= Ir <= 5``, ``-5 <= Ii <= 5``, one-way lines.
    """
    buses = pd.Index(range(1, 27), name="bus")
    pos = {b: i for i, b in enumerate(buses)}
    lines = np.array(LINES, dtype=float)
    sig = sigma(K)
    k = np.arange(K)
    tanphi = np.tan(np.arccos(0.9))
    g_house = 0.017 + 0.095 * sig + 0.017 * (k <= 11) + 0.026 * (k >= 44)
    g_office = 0.043 + 0.170 * ((k >= 8) & (k <= 47))
    load_buses = [*range(1, 18), *range(19, 27)]
    G = np.column_stack([g_house] * 16 + [g_office] + [np.full(K, 0.013)] * 8)
    u = 0.9 - 1j * np.sqrt(1 - 0.81)
    Is = np.outer(0.12 * sig * u, np.ones(17))
    return GridData(
        buses=buses, steps=pd.RangeIndex(K, name="k"),
        line_ids=pd.Index([f"L{int(i)}" for i in lines[:, 0]], name="line"),
        line_from=np.array([pos[int(b)] for b in lines[:, 1]]), line_to=np.array([pos[int(b)] for b in lines[:, 2]]),
        line_g=lines[:, 3], line_b=lines[:, 4], line_one_way=np.full(25, one_way),
        gen_ids=pd.Index(["G18"], name="generator"), gen_bus=np.array([pos[18]]),
        gen_cost_a=0.01, gen_cost_b=0.1, gen_cost_c=0.0, gen_ir_min=0.0, gen_ir_max=5.0, gen_ii_min=-5.0,
        gen_ii_max=5.0,
        vg_ids=pd.Index([f"PV{b}" for b in range(1, 18)], name="variable_generator"),
        vg_bus=np.array([pos[b] for b in range(1, 18)]), vg_current=Is,
        load_ids=pd.Index([f"D{b}" for b in load_buses], name="load"),
        load_bus=np.array([pos[b] for b in load_buses]), load_G=G, load_B=-G * tanphi,
        load_beta_p=0.5, vmin=0.9, vmax=1.1, secant_theta_deg=0.0, ref_bus=pos[18], name="symmetrica-lite",
        base={"s_mva": 1.0, "step_minutes": 15, "start_time": "06:00", "note": "per unit; omtepf.md §4"},
    )


def charging_draw(K: int = 57) -> np.ndarray:
    """Fixed charging current drawn per step and bus, as a (K, 26) complex *injection* (negative)."""
    d = np.zeros((K, 26), dtype=complex)
    hubs = [20, 22, 24, 26]
    for k, n in ((2, 4), (3, 4), (4, 2)):  # wireless EVs per hub and step
        for h in hubs:
            d[k, h - 1] += n * 0.08 * U
    for k, n in ((3, 8), (4, 10), (5, 10), (6, 10), (7, 10), (8, 4), (9, 4), (10, 2)):  # commercial plugs at 17
        d[k, 16] += n * 0.08 * U
    for k, n in ((43, 1), (44, 2), (45, 2), (46, 2), (47, 2), (48, 1), (49, 1), (50, 1)):  # home chargers
        d[k, :16] += n * 0.04 * U
    return -d[:K]


def symmetrica_with_charging(K: int = 57) -> GridData:
    g = symmetrica_lite_grid(K)
    return g.with_options(extra_injection=charging_draw(K))
