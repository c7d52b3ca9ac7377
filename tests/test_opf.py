"""tenflow.opf: solve, prices (finite differences), cost forms, CCP behaviour, bad input."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import tenflow
import tenflow.opf as opf
from _opf_cases import symmetrica_lite_grid, symmetrica_with_charging
from tenflow.errors import CaseError, InfeasibleError
from tenflow.formulations import ivacopf as iv
from tenflow.formulations.grid_data import GridData, grid_from_case


@pytest.fixture(scope="module")
def grid() -> GridData:
    return symmetrica_with_charging()


def test_case_extraction_equals_the_grid_built_from_the_spec_numbers():
    case_grid = grid_from_case(tenflow.cases.load("symmetrica-lite"))
    spec = symmetrica_lite_grid()
    assert [str(b) for b in spec.buses] == list(case_grid.buses)
    for name in ("line_from", "line_to", "line_g", "line_b", "gen_bus", "load_bus", "load_G", "load_B", "vg_bus",
                 "vg_current", "line_one_way", "vmin", "vmax", "gen_cost_a", "gen_cost_b", "load_beta_p"):
        assert np.allclose(getattr(case_grid, name), getattr(spec, name)), name
    assert case_grid.ref_bus == spec.ref_bus


def test_solve_by_case_name_and_bus_prices_table():
    res = opf.solve("symmetrica-lite")
    assert res.kcl_residual() < 1e-8
    assert res.method == "ccp" and res.iterations >= 2
    prices = opf.bus_prices(res)
    assert list(prices.columns) == ["bus", "step", "lmp"]
    assert len(prices) == 57 * 26 and prices.lmp.notna().all()


def test_ccp_true_objective_never_increases(grid):
    res = opf.solve(grid)
    h = np.asarray(res.history)
    assert len(h) == res.iterations >= 3
    assert np.all(np.diff(h) <= 1e-9)
    assert res.objective == pytest.approx(h[-1])
    # the reported objective is the TRUE one: exact quartic cost minus exact revenue at the returned point
    true = iv.generator_cost(grid, res.Ig).sum() - iv.demand_revenue(grid, res.V).sum()
    assert res.objective == pytest.approx(true, rel=1e-12)


def test_secant_restriction_never_leaves_vmin_ex_post(grid):
    res = opf.solve(grid)
    assert np.abs(res.V).min() >= 0.9 - 1e-7
    assert np.abs(res.V).max() <= 1.1 + 1e-7


def _one_sided(g1: GridData, res: opf.OPFResult, n: int, eps: float, revenue: str) -> tuple[float, float]:
    """Forward and backward differences of the optimal objective w.r.t. an active-power demand at bus n."""
    dI = eps * res.V[0, n] / abs(res.V[0, n]) ** 2  # current drawn by a demand eps at the bus voltage
    vals = {}
    for sgn in (1.0, -1.0):
        inj = g1.extra_injection.copy()
        inj[0, n] -= sgn * dI
        vals[sgn] = opf.solve(g1.with_options(extra_injection=inj), revenue=revenue, rtol=1e-12).objective
    return (vals[1.0] - res.objective) / eps, (res.objective - vals[-1.0]) / eps


@pytest.mark.parametrize("revenue", ["none", "ccp"])
def test_lmp_equals_finite_difference_of_the_optimal_cost(grid, revenue):
    """Where the optimal value is differentiable (forward = backward difference) the LMP equals it within
    1 %; at kinks (e.g. a one-way line at zero current) it lies between the one-sided derivatives."""
    smooth = 0
    total = 0
    steps = (3, 20, 30, 45) if revenue == "ccp" else (3, 12, 45, 52)  # "none": one-way kinks at midday
    for k in steps:
        g1 = grid.subset_steps([k])
        res = opf.solve(g1, revenue=revenue, rtol=1e-12)
        for bus in (9, 17, 1, 22):
            n = list(g1.buses).index(bus)
            fwd, bwd = _one_sided(g1, res, n, 1e-5, revenue)
            total += 1
            if abs(fwd - bwd) <= 2e-3 * max(abs(fwd), abs(bwd), 1e-2):
                smooth += 1
                fd = 0.5 * (fwd + bwd)
                assert res.lmp[0, n] == pytest.approx(fd, rel=1e-2), (k, bus, revenue, fd)
            else:
                lo, hi = min(fwd, bwd), max(fwd, bwd)
                assert lo - 1e-3 <= res.lmp[0, n] <= hi + 1e-3, (k, bus, revenue, fwd, bwd)
    assert smooth >= 0.75 * total


def test_lmp_is_higher_behind_the_weak_line(grid):
    res = opf.solve(grid)
    b9, b10 = list(grid.buses).index(9), list(grid.buses).index(10)
    assert np.all(res.lmp[:, b9] > res.lmp[:, b10])


def test_quartic_in_current_equals_power_form_at_unit_generator_voltage():
    g = symmetrica_lite_grid(K=57)
    vmin, vmax = g.vmin.copy(), g.vmax.copy()
    vmin[g.ref_bus] = vmax[g.ref_bus] = 1.0  # |V_gen| = 1 exactly (secant Vr >= 1 and |V| <= 1)
    res = opf.solve(g.with_options(vmin=vmin, vmax=vmax))
    assert np.abs(res.V[:, g.ref_bus]) == pytest.approx(1.0, abs=1e-7)
    cur = iv.generator_cost(g, res.Ig)
    pw = iv.generator_cost_power_form(g, res.V, res.Ig)
    assert pw == pytest.approx(cur, rel=1e-6)
    # ... and only there: at the default optimum |V_gen| = 1.1 the forms differ (by |V|^2..|V|^4)
    free = opf.solve(g)
    ratio = iv.generator_cost_power_form(g, free.V, free.Ig) / iv.generator_cost(g, free.Ig)
    assert np.all((ratio > 1.1**2 - 1e-6) & (ratio < 1.1**4 + 1e-6))


def test_multistart_keeps_the_best_per_step(grid):
    g = grid.subset_steps([3, 20, 45])
    one = opf.solve(g)
    multi = opf.solve(g, starts=(1.0, 0.9, 1.1))
    assert np.all(multi.objective_steps <= one.objective_steps + 1e-8)


def test_tangent_only_and_no_revenue_modes(grid):
    tan = opf.solve(grid, revenue="tangent")
    ccp = opf.solve(grid)
    none = opf.solve(grid, revenue="none")
    assert tan.iterations == 1 and none.iterations == 1
    assert ccp.objective <= tan.objective + 1e-9
    # without revenue the optimum lowers the voltages (less admittance load => less generation)
    assert np.abs(none.V).mean() < np.abs(ccp.V).mean()


# ------------------------------------------------------------------------------------------ bad input
def test_island_is_named():
    g = symmetrica_lite_grid(K=2)
    keep = np.array([lid != "L17" for lid in g.line_ids])  # bus 9 hangs on L17 only
    bad = g.with_options(line_ids=g.line_ids[keep], line_from=g.line_from[keep], line_to=g.line_to[keep],
                         line_g=g.line_g[keep], line_b=g.line_b[keep], line_g_shunt=g.line_g_shunt[keep],
                         line_b_shunt=g.line_b_shunt[keep], line_tap=g.line_tap[keep],
                         line_i_max=g.line_i_max[keep], line_one_way=g.line_one_way[keep])
    with pytest.raises(CaseError, match=r"island: buses \['9'\] are not connected to the reference bus 18"):
        opf.solve(bad)


def test_zero_admittance_line_is_named():
    g = symmetrica_lite_grid(K=2)
    gg, bb = g.line_g.copy(), g.line_b.copy()
    gg[4] = bb[4] = 0.0
    with pytest.raises(CaseError, match=r"line 'L5' \(4->5\) has zero or non-finite series admittance"):
        opf.solve(g.with_options(line_g=gg, line_b=bb))


def test_profile_of_wrong_length_is_named():
    g = symmetrica_lite_grid(K=57)
    with pytest.raises(CaseError, match=r"load_G has shape \(56, 25\), expected \(K=57 steps, 25\)"):
        opf.solve(g.with_options(load_G=g.load_G[:56]))


def test_empty_voltage_band_is_named():
    g = symmetrica_lite_grid(K=2)
    vmin = g.vmin.copy()
    vmin[8] = 1.2
    with pytest.raises(CaseError, match=r"bus 9: vmin=1.2 > vmax=1.1"):
        opf.solve(g.with_options(vmin=vmin))


def test_infeasible_voltage_band_names_steps_and_buses():
    g = symmetrica_with_charging(K=57)
    vmin = np.full(g.n_bus, 0.9)
    # with V_18 <= 1.1, bus 9 reaches at most 1.0544/1.0542/1.0539 p.u. in steps 45/46/47 (evening
    # home charging), 1.0547 in step 44 (1-D scan at V_18 = 1.1)
    vmin[8] = 1.0545
    with pytest.raises(InfeasibleError) as exc:
        opf.solve(g.with_options(vmin=vmin))
    msg = str(exc.value)
    assert "infeasible in 3 of 57 steps: [45, 46, 47]" in msg
    for k in (45, 46, 47):
        assert re.search(rf"step {k}: voltage bounds cannot be met at bus\(es\) (9 \(below vmin|18 \(above vmax)", msg)


def test_case_with_unknown_bus_reference_is_named():
    case = tenflow.cases.load("symmetrica-lite")
    assert isinstance(case.loads, pd.DataFrame)
    grid = grid_from_case(case)
    assert grid.n_bus == 26


def test_step_length_and_start_hour_for_price_conversion():
    assert opf.load_grid("symmetrica-lite").step_hours == 0.25
    assert opf.load_grid("symmetrica-lite").start_hour == 6.0
    g = symmetrica_lite_grid(K=4).with_options(base={})
    assert g.step_hours == 6.0 and g.start_hour == 0.0  # unknown: one day over K steps, from midnight
