"""Coordinated OMTEPF (omtepf.md §3.9, eq. 67, §3.10, §6.2)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from omtepf_spec_case import load_symmetrica, v2g_tiny_case
from tenflow.case import Case
from tenflow.errors import InfeasibleError
from tenflow.formulations import transport as TR
from tenflow.formulations.grid_data import grid_from_case
from tenflow.problems import coordinated as CO
from tenflow.problems import uncoordinated as UN
from tenflow.problems.omtepf import build_coordinated, run
from tenflow.problems.omtepf_solution import OmtepfSolution
from tenflow.results.omtepf_eval import evaluate
from tenflow.solve import Program

NVK = 32 * 57


@pytest.fixture(scope="module")
def case() -> Case:
    return load_symmetrica()


@pytest.fixture(scope="module")
def unc(case: Case) -> OmtepfSolution:
    return UN.run(case)


@pytest.fixture(scope="module")
def coord(case: Case, unc: OmtepfSolution) -> OmtepfSolution:
    return CO.run(case, warm_start=unc, rel_gap=1e-3)


def test_exact_relations_6_2(case: Case, coord: OmtepfSolution) -> None:
    """§6.2 items 1–3 and 5 on the coordinated plan, through the shared evaluator."""
    ev = evaluate(case, coord)
    assert ev.violations == []
    assert ev.traversals == 192 and ev.C_T == pytest.approx(9.60)
    assert ev.queued == 16 and set(coord.idle["k"]) == {40} and ev.C_Q == pytest.approx(0.80)
    assert ev.R_C == pytest.approx(ev.C_T)  # eq. 66
    assert ev.charge_units == pytest.approx(384)
    assert ev.qos == pytest.approx(1 - 16 / NVK) and ev.utilisation == pytest.approx(192 / NVK)
    assert ev.v_min >= 0.9 - 1e-7 and ev.v_max <= 1.1 + 1e-7
    s = coord.soc.pivot(index="ev", columns="k", values="soc").to_numpy()
    assert s.min() >= -1e-9 and s.max() <= 18 + 1e-9 and np.allclose(s[:, -1], 18)


def test_certified_gap_and_bounds(coord: OmtepfSolution) -> None:
    i = coord.info
    assert i["gap"] <= 1e-3
    assert i["bound"] <= i["program_objective"] + 1e-9
    # the tangent revenue majorises the true objective; the CCP never increases it
    assert i["objective"] <= i["program_objective"] + 1e-7
    assert all(b < a for a, b in zip(i["ccp_history"], i["ccp_history"][1:], strict=False))
    assert i["objective"] == pytest.approx(i["ccp_history"][-1], abs=1e-12)  # the value of the returned plan


def test_uncoordinated_plan_is_feasible_for_coordinated_program(case: Case, unc: OmtepfSolution) -> None:
    """§6.2 item 6: the uncoordinated schedule is a feasible point of the coordinated program."""
    m = build_coordinated(case)
    feas = CO.plan_is_feasible(m, CO.start_vector(m, unc))
    assert feas["feasible"] == 1.0, feas


def test_coordinated_not_worse_than_uncoordinated(case: Case, unc: OmtepfSolution, coord: OmtepfSolution) -> None:
    """§6.2 item 6 under the same evaluator; and the reported objective equals eq. 67 evaluated independently."""
    eu, ec = evaluate(case, unc), evaluate(case, coord)
    assert ec.objective <= eu.objective + 1e-9
    assert ec.objective - ec.C_S_const == pytest.approx(coord.info["objective"], abs=1e-8)
    assert eu.objective - eu.C_S_const == pytest.approx(coord.info["warm_start_objective"], abs=1e-6)
    assert unc.info["objective"] == pytest.approx(coord.info["warm_start_objective"], abs=1e-6)
    # qualitative (§6.2): generator cost markedly lower, same charge units
    assert ec.C_G < 0.9 * eu.C_G
    assert ec.charge_units == eu.charge_units


def test_run_dispatch(case: Case) -> None:
    with pytest.raises(ValueError):
        run(case, mode="both")


# ---------------------------------------------------------------------------------------------- outer approx
def test_cone_cuts_are_valid_and_tight() -> None:
    """Gradient cuts of standard and rotated cones: tight at the generating point, never cut off cone points."""
    rng = np.random.default_rng(0)
    p = Program("cones")
    p.add_vars("x", 4, lb=-10, ub=10)
    n = p.n
    # ||(x0, x1)|| <= 1.1 and 2 * x2 * 0.5 >= x0^2 + x1^2 (t >= |I|^2) and 2 x3 0.5 >= x2^2
    p.add_soc("v", sp.csr_matrix((1, n)), 1.1, sp.csr_matrix(([1.0, 1.0], ([0, 1], [0, 1])), shape=(2, n)))
    p.add_soc("t", sp.csr_matrix(([1.0], ([0], [2])), shape=(2, n)), [0.0, 0.5],
              sp.csr_matrix(([1.0, 1.0], ([0, 1], [0, 1])), shape=(2, n)), rotated=True)
    p.add_soc("z", sp.csr_matrix(([1.0], ([0], [3])), shape=(2, n)), [0.0, 0.5],
              sp.csr_matrix(([1.0], ([0], [2])), shape=(1, n)), rotated=True)
    cc = CO.ConeCuts(p)
    for _ in range(50):
        a = rng.uniform(-1, 1, 2)
        t = float(a @ a)
        x0 = np.r_[a, t, t * t]  # on the boundary of the t and z cones
        C, d = cc.cuts(x0)
        assert C.shape[0] == 3
        np.testing.assert_allclose((C @ x0)[1:], d[1:], atol=1e-9)  # tight where the cone is active
        for _ in range(20):  # random feasible points satisfy every cut
            b = rng.uniform(-1, 1, 2) * 0.7
            tt = float(b @ b) + rng.uniform(0, 1)
            y = np.r_[b, tt, tt * tt + rng.uniform(0, 1)]
            assert np.all(cc.violation(y) <= 1e-12)
            assert np.all(C @ y <= d + 1e-9)


# ---------------------------------------------------------------------------------------------- V2G
@pytest.mark.parametrize("price", [0.0, 0.5])
def test_v2g_discharges_only_when_priced(price: float) -> None:
    """Vehicle-to-grid (§3.4 general model): with a price that makes discharging worthwhile the coordinated
    plan discharges (injecting current); at price zero it does not. SoC limits and final SoC hold."""
    c = v2g_tiny_case(price)
    sol = CO.run(c)
    f = sol.firings
    n_v2g = int((f["kind"] == "v2g").sum())
    if price == 0.0:
        assert n_v2g == 0
    else:
        assert n_v2g > 0
        v = f[f["kind"] == "v2g"]
        assert (v["current_re"] < 0).all() and (v["rate"] < 0).all()  # injection, lowers SoC
    s = sol.soc.pivot(index="ev", columns="k", values="soc").to_numpy()
    assert s.min() >= -1e-9 and s.max() <= 10 + 1e-9 and np.allclose(s[:, -1], 10)
    # net charge = depletion (semantics A, eq. 66 generalised): charged - discharged = 2 x traversals
    ch = f.loc[f["kind"] == "home", "rate"].sum() + f.loc[f["kind"] == "v2g", "rate"].sum()
    assert ch == pytest.approx(2 * (f["kind"] == "road").sum())
    assert sol.info["gap"] <= 1e-3
    # the one evaluator of both modes prices v2g as the optimiser does (R_C on the net charge + v2g price)
    from tenflow.results.omtepf_eval import evaluate

    assert evaluate(c, sol).objective == pytest.approx(sol.info["objective"], abs=1e-6)


def test_kcl_coupling_sign_and_rows(case: Case) -> None:
    """Charging firings withdraw their current at their bus in the KCL rows (eq. 47: -M^-_EC)."""
    from tenflow.problems.omtepf import kcl_coupling

    fleet = TR.build_fleet(case)
    grid = grid_from_case(case)
    fs = TR.firing_set(fleet, 0, fleet.K)
    M = kcl_coupling(fleet, fs, grid, np.arange(grid.K)).tocsc()
    c = fleet.caps
    kinds = c["kind"].to_numpy()[fs.x_cap]
    j = int(np.flatnonzero(kinds == "com")[0])
    col = M[:, j].toarray().ravel()
    N = grid.n_bus
    k = fs.x_k[j]
    b17 = list(map(str, grid.buses)).index("17")
    assert col[k * 2 * N + b17] == pytest.approx(-0.08 * 0.9)
    assert col[k * 2 * N + N + b17] == pytest.approx(0.08 * np.sqrt(1 - 0.81), abs=1e-5)
    assert np.count_nonzero(col) == 2
    assert M[:, np.flatnonzero(kinds == "road")].nnz == 0


def test_run_reuses_uncoordinated_warm_start_and_gap_alias() -> None:
    c = v2g_tiny_case(0.5)
    u = run(c, mode="uncoordinated")
    s = run(c, mode="coordinated", gap=1e-4)
    assert s.info["warm_start_objective"] == pytest.approx(u.info["objective"], abs=1e-9)
    assert s.info["gap"] <= 1e-4
    assert s.info["timings"]["warm_start_s"] < 1e-3  # not recomputed


def test_unreachable_final_soc_is_infeasible_and_named() -> None:
    """EV e1 may use no charger: it cannot return to soc_final after its trips. The uncoordinated pipeline
    reports the shortfall; the coordinated program is infeasible and names EV e1 (and not e0)."""
    c = v2g_tiny_case(0.0)
    ch = c.chargers.copy()
    ch["eligible"] = "e0"
    from tenflow.case import Case

    bad = Case.build(c.meta, c.options, c.costs, **{n: c.table(n) for n in (
        "buffers", "roads", "parking", "lines", "generators", "loads", "evs", "itineraries", "profiles")},
        chargers=ch)
    u = UN.run(bad)
    assert u.info["soc_final_shortfall"] == {"e1": 4.0}
    with pytest.raises(InfeasibleError) as ei:
        CO.run(bad, warm_start=u)
    msg = str(ei.value)
    assert "EV e1" in msg and "EV e0" not in msg and "soc_final" in msg
