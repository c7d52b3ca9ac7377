"""Gurobi backend (optional extra ``gurobi``) against closed forms, brute force, HiGHS, Clarabel and SCIP.

Skipped when gurobipy is absent (CI: the ``test`` extra does not install it, licence). Programs that exceed the
pip wheel's restricted licence are skipped with the reason.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from omtepf_spec_case import v2g_tiny_case
from tenflow.errors import SolverError
from tenflow.solve import Program, Solution, solve_clarabel, solve_highs
from test_scip_backend import misocp_program
from test_solve import small_lp

pytest.importorskip("gurobipy", reason="gurobipy (extra 'gurobi') is not installed")
from tenflow.solve.gurobi_backend import solve_gurobi  # noqa: E402


def _gurobi(prog: Program, **kw: Any) -> Solution:
    try:
        return solve_gurobi(prog, **kw)
    except SolverError as exc:  # licence (size) or environment
        if "licence" in str(exc):
            pytest.skip(f"Gurobi licence: {exc}")
        raise


def test_lp_optimum_and_duals_by_finite_difference() -> None:
    s0 = _gurobi(small_lp(2.0))
    assert s0.status == "optimal" and s0.solver == "gurobi"
    np.testing.assert_allclose(s0["v"], [1.25, 0.75], atol=1e-7)  # closed form (see test_solve.small_lp)
    assert s0.objective == pytest.approx(2.75, abs=1e-9)
    h = 1e-3
    for rows, prog_h in (("cover", small_lp(2.0 + h)),):
        fd = (_gurobi(prog_h).objective - s0.objective) / h
        assert s0.dual(rows)[0] == pytest.approx(fd, rel=1e-6)
    # equality row: shift lo = hi = 0.5 + h
    p = small_lp(2.0)
    p._lo[1][:] += h
    p._hi[1][:] += h
    fd = (_gurobi(p).objective - s0.objective) / h
    assert s0.dual("diff")[0] == pytest.approx(fd, rel=1e-6)
    ref = solve_highs(small_lp(2.0)).row_duals
    assert s0.row_duals is not None and ref is not None
    np.testing.assert_allclose(s0.row_duals, ref, atol=1e-8)


def test_range_row_dual_sign_matches_highs() -> None:
    """A range row active at its upper side: dual = d obj / d hi (negative for a max-like objective)."""
    p = Program("range")
    v = p.add_vars("v", 2, lb=0.0, ub=5.0)
    p.add_rows("rng", [(v, np.array([[1.0, 2.0]]))], lo=1.0, hi=4.0)
    p.add_objective(v, np.array([-1.0, -1.0]))
    s, ref = _gurobi(p), solve_highs(p)
    assert s.objective == pytest.approx(ref.objective, abs=1e-9) == pytest.approx(-4.0)
    assert s.row_duals is not None and ref.row_duals is not None
    np.testing.assert_allclose(s.row_duals, ref.row_duals, atol=1e-8)
    assert s.row_duals[0] == pytest.approx(-1.0)


def test_milp_bound_and_gap() -> None:
    p = Program("milp")
    v = p.add_vars("v", 2, lb=0, ub=10, integer=True)
    p.add_rows("c", [(v, np.array([[2.0, 2.0]]))], hi=9.0)
    p.add_objective(v, np.array([-1.0, -1.0]))
    s = _gurobi(p)
    assert s.status == "optimal" and s.objective == pytest.approx(-4.0)
    assert s.row_duals is None
    assert s.bound is not None and s.bound <= s.objective + 1e-9 and s.gap is not None and s.gap <= 1e-4


def test_soc_against_clarabel_and_closed_form() -> None:
    p = Program("socp")
    x = p.add_vars("x", 3, lb=-np.inf)
    p.add_rows("line", [(x, np.array([[1.0, 1.0, 0.0]]))], hi=5.0)
    p.add_soc("dist", F=sp.csr_matrix([[0.0, 0.0, 1.0]]), c=0.0, G=sp.csr_matrix([[1.0, 0, 0], [0, 1.0, 0]]),
              g=np.array([-3.0, -4.0]))
    p.add_objective(x, np.array([0.0, 0.0, 1.0]))
    s, ref = _gurobi(p), solve_clarabel(p)
    assert s.status == "optimal"
    assert s.objective == pytest.approx(np.sqrt(2.0), abs=1e-6)
    np.testing.assert_allclose(s["x"], ref["x"], atol=1e-4)
    # dual of the line by finite differences, and against Clarabel
    h = 1e-3
    p._hi[0][:] += h
    fd = (_gurobi(p).objective - s.objective) / h
    assert s.dual("line")[0] == pytest.approx(fd, rel=1e-3)
    assert s.dual("line")[0] == pytest.approx(ref.dual("line")[0], rel=1e-4)


def test_rotated_cone_epigraph_of_square() -> None:
    p = Program("rsoc")
    v = p.add_vars("v", 2, lb=np.array([2.0, -np.inf]))
    p.add_soc("sq", F=sp.csr_matrix([[0.0, 1.0], [0.0, 0.0]]), c=np.array([0.0, 0.5]), G=sp.csr_matrix([[1.0, 0.0]]),
              rotated=True)
    p.add_objective(v, np.array([0.0, 1.0]))
    s = _gurobi(p)
    assert s["v"][1] == pytest.approx(4.0, abs=1e-6)


def test_rotated_cone_two_variable_sides_and_scaled_rows() -> None:
    """min u + v s.t. 2 u v >= (2 x)^2, x >= 1, u, v >= 0 (direct columns, scaled row): u = v = sqrt(2) x."""
    p = Program("rsoc2")
    v = p.add_vars("v", 3, lb=np.array([1.0, 0.0, 0.0]))
    p.add_soc("r", F=sp.csr_matrix([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), c=np.array([0.0, 0.0]),
              G=sp.csr_matrix([[2.0, 0.0, 0.0]]), rotated=True)
    p.add_objective(v, np.array([0.0, 1.0, 1.0]))
    s, ref = _gurobi(p), solve_clarabel(p)
    assert s.objective == pytest.approx(2.0 * np.sqrt(2.0), abs=1e-5)
    assert s.objective == pytest.approx(ref.objective, abs=1e-5)


def test_convex_quadratic_objective_against_clarabel() -> None:
    """min 1/2 x^T P x + c^T x with a linear row: same optimum as Clarabel (P over all columns)."""
    p = Program("qp")
    v = p.add_vars("v", 2, lb=-np.inf)
    p.add_rows("sum", [(v, np.array([[1.0, 1.0]]))], lo=1.0)
    p.add_objective(v, np.array([1.0, -1.0]))
    p.add_quadratic(sp.csr_matrix([[2.0, 0.5], [0.5, 1.0]]))
    s, ref = _gurobi(p), solve_clarabel(p)
    assert s.objective == pytest.approx(ref.objective, abs=1e-6)
    np.testing.assert_allclose(s["v"], ref["v"], atol=1e-4)


def test_misocp_matches_brute_force_and_scip() -> None:
    p, c = misocp_program()
    s = _gurobi(p)
    best = min((np.hypot(a - c[0], b - c[1]) + 0.1 * a, a, b)
               for a, b in itertools.product(range(5), repeat=2) if a + b <= 5)
    assert s.status == "optimal"
    assert s.objective == pytest.approx(best[0], abs=1e-5)
    assert tuple(np.round(s["x"])) == (best[1], best[2])
    pytest.importorskip("pyscipopt")
    from tenflow.solve.scip_backend import solve_scip

    assert s.objective == pytest.approx(solve_scip(p).objective, abs=1e-5)


def test_nonconvex_quadratic_objective_is_solved_globally() -> None:
    p = Program("nonconvex")
    v = p.add_vars("v", 2, lb=-1.0, ub=2.0)
    p.add_rows("sum", [(v, np.array([[1.0, 1.0]]))], hi=2.5)
    p.add_objective(v, np.array([1.0, 0.0]))
    s = _gurobi(p, extra_quadratic=sp.diags([-1.0, -1.0]))
    g = np.linspace(-1, 2, 601)
    X, Y = np.meshgrid(g, g)
    f = np.where(X + Y <= 2.5 + 1e-12, -X**2 - Y**2 + X, np.inf)
    assert s.status == "optimal"
    assert s.objective == pytest.approx(f.min(), abs=1e-5)
    assert s.bound is not None and s.bound <= s.objective + 1e-6 and s.row_duals is None


def test_infeasible_and_unbounded_status() -> None:
    p = Program("inf")
    v = p.add_vars("v", 1, lb=0.0, ub=1.0)
    p.add_rows("r", [(v, np.array([[1.0]]))], lo=2.0)
    assert _gurobi(p).status == "infeasible"
    q = Program("unb")
    w = q.add_vars("w", 1, lb=-np.inf)
    q.add_objective(w, 1.0)
    assert _gurobi(q).status == "unbounded"


def test_size_limit_or_solve_is_a_solver_error_not_a_gurobi_traceback() -> None:
    """2500 variables with a quadratic objective: beyond the restricted licence -> SolverError naming it;
    with a full licence the separable QP is solved (x_i = 1/2 each)."""
    n = 2500
    p = Program("big")
    v = p.add_vars("v", n, lb=-np.inf)
    p.add_objective(v, -1.0)
    p.add_quadratic(sp.identity(n, format="csr") * 2.0)
    try:
        s = solve_gurobi(p)
    except SolverError as exc:
        assert "licence" in str(exc) and "2500 variables" in str(exc)
    else:
        np.testing.assert_allclose(s["v"], 0.5, atol=1e-6)


def test_coordinated_v2g_tiny_against_highs() -> None:
    """The coordinated OMTEPF (omtepf.md §3.9) on the tiny V2G case (1 EV; the 2-EV case exceeds the restricted
    licence's 200 variables): Gurobi and the default HiGHS outer approximation agree within the gaps."""
    from tenflow.problems import coordinated as CO

    c = v2g_tiny_case(0.5, n_ev=1)
    ref = CO.run(c, backend="highs", rel_gap=1e-4)
    try:
        s = CO.run(c, backend="gurobi", rel_gap=1e-4)
    except SolverError as exc:
        pytest.skip(f"Gurobi licence: {exc}")
    assert s.info["solver"] == "gurobi" and s.info["gap"] <= 1e-4
    tol = 1e-4 * abs(ref.info["program_objective"]) + 1e-6
    assert s.info["program_objective"] == pytest.approx(ref.info["program_objective"], abs=tol)
    assert s.info["bound"] <= ref.info["program_objective"] + 1e-6
    assert ref.info["bound"] <= s.info["program_objective"] + 1e-6
    assert s.info["objective"] == pytest.approx(ref.info["objective"], abs=tol)


def test_missing_gurobipy_is_a_solver_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "gurobipy", None)  # import now raises ImportError
    with pytest.raises(SolverError, match="gurobipy is not installed"):
        solve_gurobi(small_lp(2.0))
