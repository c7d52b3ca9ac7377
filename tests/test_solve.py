"""Backends against hand-solved programs and against each other (sign of duals by finite differences)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tenflow.errors import SolverError
from tenflow.solve import HighsSolver, Program, solve_clarabel, solve_highs


def small_lp(rhs: float = 2.0) -> Program:
    # min x + 2y  s.t.  x + y >= rhs,  x - y == 0.5,  0 <= x <= 10, y >= 0
    p = Program("lp")
    v = p.add_vars("v", 2, lb=0.0, ub=[10.0, np.inf])
    p.add_rows("cover", [(v, np.array([[1.0, 1.0]]))], lo=rhs)
    p.add_rows("diff", [(v, np.array([[1.0, -1.0]]))], lo=0.5, hi=0.5)
    p.add_objective(v, [1.0, 2.0])
    return p


@pytest.mark.parametrize("solve", [solve_highs, solve_clarabel])
def test_lp_optimum_and_duals_by_finite_difference(solve):
    s0 = solve(small_lp(2.0))
    assert s0.status == "optimal"
    # x = y + 0.5, x + y = 2 -> y = 0.75, x = 1.25, obj = 2.75
    np.testing.assert_allclose(s0["v"], [1.25, 0.75], atol=1e-6)
    assert s0.objective == pytest.approx(2.75, abs=1e-6)
    h = 1e-3
    s1 = solve(small_lp(2.0 + h))
    fd = (s1.objective - s0.objective) / h
    assert s0.dual("cover")[0] == pytest.approx(fd, rel=1e-4)


def test_milp_and_incremental_cut():
    p = Program("milp")
    v = p.add_vars("v", 2, lb=0, ub=10, integer=True)
    p.add_rows("c", [(v, np.array([[2.0, 2.0]]))], hi=9.0)
    p.add_objective(v, [-1.0, -1.0])
    hs = HighsSolver(p)
    s = hs.solve()
    assert s.status == "optimal" and s.objective == pytest.approx(-4.0)
    hs.add_rows(sp.csr_matrix([[1.0, 1.0]]), np.array([-np.inf]), np.array([3.0]))
    assert hs.solve().objective == pytest.approx(-3.0)


def test_soc_in_clarabel_and_rejected_by_highs():
    # min t  s.t. ||(x - 3, y - 4)|| <= t  ->  t = 0 at (3, 4); add x + y <= 5 -> distance from (3,4) to the line = sqrt(2)
    p = Program("socp")
    x = p.add_vars("x", 3, lb=-np.inf)
    p.add_rows("line", [(x, np.array([[1.0, 1.0, 0.0]]))], hi=5.0)
    p.add_soc("dist", F=sp.csr_matrix([[0.0, 0.0, 1.0]]), c=0.0, G=sp.csr_matrix([[1.0, 0, 0], [0, 1.0, 0]]), g=[-3.0, -4.0])
    p.add_objective(x, [0.0, 0.0, 1.0])
    s = solve_clarabel(p)
    assert s.objective == pytest.approx(np.sqrt(2.0), abs=1e-7)
    with pytest.raises(SolverError):
        solve_highs(p)


def test_rotated_cone_epigraph_of_square():
    # min z s.t. z >= x^2 (2 * z * 1/2 >= x^2), x >= 2  -> z = 4
    p = Program("rsoc")
    v = p.add_vars("v", 2, lb=[2.0, -np.inf])
    p.add_soc("sq", F=sp.csr_matrix([[0.0, 1.0], [0.0, 0.0]]), c=[0.0, 0.5], G=sp.csr_matrix([[1.0, 0.0]]), rotated=True)
    p.add_objective(v, [0.0, 1.0])
    s = solve_clarabel(p)
    assert s["v"][1] == pytest.approx(4.0, abs=1e-6)
