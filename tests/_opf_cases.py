"""Shared inputs of the OPF tests: a synthetic EV-charging draw on Symmetrica-lite.

The draw imitates the uncoordinated schedule of omtepf.md §5.2 (morning wireless traversals at the four
hub intersections and commercial charging at bus 17, evening home charging at the 16 neighbourhoods;
0.04/0.08 p.u. per EV at pf 0.9 lagging, §2.2) so that some steps have the generator voltage below its
bound (voltage limit at bus 9 binding), as in §4.6.
"""

from __future__ import annotations

import numpy as np

from tenflow.formulations.grid_data import GridData, symmetrica_lite_grid

U = 0.9 - 0.43589j


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
