"""Uncoordinated Symmetrica-lite electrical results vs the reference numbers of omtepf.md §4.6 (±5 % sanity
bands, not exact targets) and vs the exact 1-D scan, with the charging currents of the uncoordinated
schedule (transport MILPs + charge-ASAP heuristic of :mod:`tenflow.problems.uncoordinated`)."""

from __future__ import annotations

import numpy as np
import pytest

import tenflow
import tenflow.opf as opf
from tenflow.formulations import ivacopf as iv
from tenflow.formulations.grid_data import grid_from_case


@pytest.fixture(scope="module")
def uncoordinated_grid() -> opf.GridData:
    from tenflow.formulations import charging as CH
    from tenflow.formulations import transport as TR
    from tenflow.problems import uncoordinated as U

    case = tenflow.cases.load("symmetrica-lite")
    fleet = TR.build_fleet(case)
    firings, _, _, _ = U.schedule(case, fleet)
    J = CH.currents_of_firings(fleet, firings, case.K)  # drawn current (K, fleet buses)
    g = grid_from_case(case)
    extra = np.zeros((case.K, g.n_bus), dtype=complex)
    np.add.at(extra.T, g.buses.get_indexer([str(b) for b in fleet.bus_ids]), -J.T)
    return g.with_options(extra_injection=extra)


def test_electrical_totals_within_sanity_bands(uncoordinated_grid):
    g = uncoordinated_grid
    res = opf.solve(g)
    V, Ig = res.V, res.Ig
    E_G = float((V[:, g.gen_bus] * np.conj(Ig)).real.sum())
    E_S = float((V[:, g.vg_bus] * np.conj(g.vg_current)).real.sum())
    E_C = float(-(V * np.conj(g.extra_injection)).real.sum())
    E_D = float((np.abs(V) ** 2 * g.load_admittance().real).sum())
    ref = {"C_G": 10.05, "R_D": 54.19, "C_S": 9.97, "E_G": 55.25, "E_S": 68.27, "E_C": 14.64, "E_D": 108.39}
    got = {"C_G": float(iv.generator_cost(g, Ig).sum()), "R_D": float(iv.demand_revenue(g, V).sum()),
           "C_S": 0.146 * E_S, "E_G": E_G, "E_S": E_S, "E_C": E_C, "E_D": E_D}
    for key, val in ref.items():
        assert got[key] == pytest.approx(val, rel=0.05), key
    assert E_G + E_S - E_C - E_D == pytest.approx(0.49, abs=0.05)  # losses
    assert np.abs(V).min() == pytest.approx(0.900, abs=1e-4)
    k, n = np.unravel_index(np.argmin(np.abs(V)), V.shape)
    assert (int(k), g.buses[n]) == (3, "9")  # bus 9 at the 06:45 morning charging peak
    assert abs(V[3, g.ref_bus]) == pytest.approx(0.935, abs=2e-3)
    assert np.rad2deg(np.abs(np.angle(V))).max() < 0.5


def test_every_step_equals_the_scan(uncoordinated_grid):
    g = uncoordinated_grid
    res = opf.solve(g)
    scan = opf.scan_opf(g)
    assert np.abs(res.objective_steps - scan.objective.to_numpy()).max() <= scan.tol.max() + 1e-7
