"""SCIP backend on small programs with known optima (brute force over the integers)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from tenflow.solve import Program

pytest.importorskip("pyscipopt", reason="pyscipopt (extra 'scip') is not installed")
from tenflow.solve.scip_backend import solve_scip  # noqa: E402


def misocp_program() -> tuple[Program, np.ndarray]:
    """min ||x - c|| + 0.1 x0 via the epigraph t >= ||x - c||, integer x0, x1 in 0..4, x0 + x1 <= 5."""
    c = np.array([2.3, 3.6])
    p = Program("misocp")
    x = p.add_vars("x", 2, lb=0, ub=4, integer=True)
    t = p.add_vars("t", 1, lb=0)
    p.add_rows("cap", [(x, np.array([[1.0, 1.0]]))], hi=5.0)
    F = sp.csr_matrix(([1.0], ([0], [t.start])), shape=(1, p.n))
    G = sp.csr_matrix(([1.0, 1.0], ([0, 1], [x.start, x.start + 1])), shape=(2, p.n))
    p.add_soc("dist", F, 0.0, G, -c)
    p.add_objective(t, 1.0)
    p.add_objective(x, [0.1, 0.0])
    return p, c


def test_misocp_matches_brute_force():
    p, c = misocp_program()
    sol = solve_scip(p)
    best = min((np.hypot(a - c[0], b - c[1]) + 0.1 * a, a, b)
               for a, b in itertools.product(range(5), repeat=2) if a + b <= 5)
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(best[0], abs=1e-6)
    assert tuple(np.round(sol["x"])) == (best[1], best[2])


def test_nonconvex_quadratic_objective_is_solved_globally():
    """min -x^2 - y^2 + x on the box [-1, 2]^2 with x + y <= 2.5: global optimum by enumeration of a fine grid."""
    p = Program("nonconvex")
    v = p.add_vars("v", 2, lb=-1.0, ub=2.0)
    p.add_rows("sum", [(v, np.array([[1.0, 1.0]]))], hi=2.5)
    p.add_objective(v, [1.0, 0.0])
    Q = sp.diags([-1.0, -1.0])
    sol = solve_scip(p, extra_quadratic=Q)
    g = np.linspace(-1, 2, 601)
    X, Y = np.meshgrid(g, g)
    f = np.where(X + Y <= 2.5 + 1e-12, -X**2 - Y**2 + X, np.inf)
    assert sol.objective == pytest.approx(f.min(), abs=1e-5)
