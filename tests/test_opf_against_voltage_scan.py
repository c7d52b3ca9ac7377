"""Global optimality: the CCP optimum of every step equals the exact 1-D scan (omtepf.md §3.10 option 4,
§6.2 item 7), on the built-in Symmetrica-lite case and with a synthetic EV-charging draw that moves the
optimum off the voltage bound (voltage limit at bus 9 binding, interior optima in the evening)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tenflow
import tenflow.opf as opf
from _opf_cases import symmetrica_lite_grid, symmetrica_with_charging
from tenflow.formulations.grid_data import grid_from_case


def _compare(grid: opf.GridData) -> tuple[opf.OPFResult, object]:
    res = opf.solve(grid)
    scan = opf.scan_opf(grid)
    assert (scan.n_feasible > 0).all()
    # the scan is a feasible point of the same problem: the convex/CCP optimum cannot be worse than the
    # scan optimum by more than the scan's grid tolerance, nor better by more than solver accuracy
    diff = res.objective_steps - scan.objective.to_numpy()
    tol = scan.tol.to_numpy() + 1e-7
    assert np.all(np.abs(diff) <= tol), (np.argmax(np.abs(diff) - tol), diff.max(), diff.min())
    vg = np.abs(res.V[:, grid.ref_bus])
    assert vg == pytest.approx(scan.v_gen.to_numpy(), abs=1e-3)
    return res, scan


def test_builtin_case_every_step_equals_the_scan():
    res, scan = _compare(grid_from_case(tenflow.cases.load("symmetrica-lite")))
    assert np.all(np.abs(res.V[:, 17]) == pytest.approx(1.1, abs=1e-6))  # bang-bang at the upper bound


def test_with_charging_every_step_equals_the_scan():
    res, scan = _compare(symmetrica_with_charging())
    vg = scan.v_gen.to_numpy()
    # omtepf.md §4.6: V_18 = 1.1 except at the morning peak (0.935) and the evening charging (interior)
    assert vg[3] == pytest.approx(0.935, abs=2e-3)
    assert np.sum(vg < 1.1 - 1e-4) >= 4
    assert np.abs(res.V).min() == pytest.approx(0.9, abs=1e-6)


def test_scan_rejects_multi_generator_grids():
    g = symmetrica_lite_grid(K=1)
    two = g.with_options(gen_ids=g.gen_ids.append(g.gen_ids + "b"), gen_bus=np.array([17, 2]),
                         gen_cost_a=np.r_[g.gen_cost_a, g.gen_cost_a], gen_cost_b=np.r_[g.gen_cost_b, g.gen_cost_b],
                         gen_cost_c=np.r_[g.gen_cost_c, g.gen_cost_c], gen_ir_min=np.r_[0.0, 0.0],
                         gen_ir_max=np.r_[5.0, 5.0], gen_ii_min=np.r_[-5.0, -5.0], gen_ii_max=np.r_[5.0, 5.0])
    with pytest.raises(tenflow.CaseError, match="exactly one generator"):
        opf.scan_opf(two)


def test_exact_nonconvex_scip_equals_scan_and_ccp():
    """§3.10 option 1 (SCIP spatial branch and bound on the non-convex revenue) on steps with the optimum at
    the voltage bound (20), at the bus-9 voltage limit (3) and interior (45)."""
    pytest.importorskip("pyscipopt", reason="pyscipopt (extra 'scip') is not installed")
    g = symmetrica_with_charging()
    steps = [3, 20, 45]
    exact = opf.solve(g, steps=steps, revenue="exact")
    scan = opf.scan_opf(g, steps=steps)
    ccp = opf.solve(g, steps=steps)
    assert exact.method == "exact" and max(exact.info["gaps"]) <= 1e-6
    assert exact.objective_steps == pytest.approx(scan.objective.to_numpy(), abs=1e-6)
    assert exact.objective_steps == pytest.approx(ccp.objective_steps, abs=1e-6)
    assert exact.lmp == pytest.approx(ccp.lmp, rel=1e-3)


@pytest.mark.parametrize("seed", range(6))
def test_random_radial_pi_networks_equal_the_scan(seed):
    """Random 10-bus trees with pi-model lines (shunt charging, off-nominal taps), admittance loads, a
    current injection, demand revenue and bidirectional lines: CCP optimum = exact scan, every step."""
    rng = np.random.default_rng(seed)
    N, K = 10, 4
    parent = [int(rng.integers(0, i)) for i in range(1, N)]
    y = rng.uniform(5, 40, N - 1) * np.exp(-1j * rng.uniform(0.2, 1.3, N - 1))
    G = rng.uniform(0.02, 0.25, (K, N - 1))
    inj = np.zeros((K, N), dtype=complex)
    inj[:, int(rng.integers(1, N))] = rng.uniform(0.0, 0.3) * (0.9 - 0.43589j)
    g = opf.GridData(
        buses=pd.Index(range(N)), steps=pd.RangeIndex(K), line_ids=pd.Index([f"l{i}" for i in range(N - 1)]),
        line_from=np.array(parent), line_to=np.arange(1, N), line_g=y.real, line_b=y.imag,
        line_b_shunt=rng.uniform(0, 0.05, N - 1), line_tap=rng.choice([1.0, 0.975, 1.025], N - 1),
        gen_ids=pd.Index(["g"]), gen_bus=[0], gen_cost_a=rng.uniform(0, 0.05), gen_cost_b=rng.uniform(0.05, 0.5),
        gen_ir_min=0.0, gen_ir_max=10.0, gen_ii_min=-10.0, gen_ii_max=10.0,
        load_ids=pd.Index([f"d{i}" for i in range(1, N)]), load_bus=np.arange(1, N), load_G=G, load_B=-0.4 * G,
        load_beta_p=rng.uniform(0.0, 0.6), extra_injection=inj, vmin=0.9, vmax=1.1, ref_bus=0,
    ).validate()
    res = opf.solve(g)
    scan = opf.scan_opf(g, v_range=(0.85, 1.1))
    assert np.abs(res.objective_steps - scan.objective.to_numpy()).max() <= scan.tol.max() + 1e-7
