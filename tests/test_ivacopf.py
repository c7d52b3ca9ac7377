"""IV-ACOPF formulation blocks (omtepf.md §3.6–3.8) against hand-derived formulas and brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from _opf_cases import symmetrica_lite_grid
from tenflow.errors import InfeasibleError
from tenflow.formulations import ivacopf as iv
from tenflow.formulations.grid_data import GridData
from tenflow.problems.opf import build_opf, scan_opf, solve
from tenflow.solve import ClarabelSolver, Program, solve_clarabel


def two_bus(tap: float = 1.0, b_sh: float = 0.0, K: int = 2, **kw) -> GridData:
    """Generator bus 0 -> line -> load bus 1."""
    return GridData(
        buses=pd.Index(["a", "b"]), steps=pd.RangeIndex(K), line_ids=pd.Index(["l"]), line_from=[0], line_to=[1],
        line_g=[4.0], line_b=[-12.0], line_b_shunt=[b_sh], line_tap=[tap], gen_ids=pd.Index(["g"]), gen_bus=[0],
        gen_cost_a=0.01, gen_cost_b=0.1, load_ids=pd.Index(["d"]), load_bus=[1],
        load_G=np.full((K, 1), 0.5), load_B=np.full((K, 1), -0.2), ref_bus=0, **kw,
    ).validate()


def test_pi_model_line_currents_match_ideal_transformer_derivation():
    # ideal transformer 1:tau... at the from end, then series y and shunt ysh/2 at both ends:
    # V' = V_f / tau, I_f = I' / tau, I' = y (V' - V_t) + ysh/2 V', I_t = y (V_t - V') + ysh/2 V_t
    g = two_bus(tap=1.05, b_sh=0.3)
    rng = np.random.default_rng(1)
    Vf, Vt = rng.normal(1, 0.05) + 1j * rng.normal(0, 0.05), rng.normal(1, 0.05) + 1j * rng.normal(0, 0.05)
    y, ysh, tau = 4 - 12j, 0.3j, 1.05
    Vp = Vf / tau
    If = (y * (Vp - Vt) + ysh / 2 * Vp) / tau
    It = y * (Vt - Vp) + ysh / 2 * Vt
    yff, yft, ytf, ytt = g.line_admittances()
    assert yff[0] * Vf + yft[0] * Vt == pytest.approx(If, abs=1e-12)
    assert ytf[0] * Vf + ytt[0] * Vt == pytest.approx(It, abs=1e-12)
    # real-split matrices agree with the complex formula
    Mf, Mt = iv.line_current_matrices(g, [0])
    x = np.array([Vf.real, Vt.real, Vf.imag, Vt.imag])
    assert Mf @ x == pytest.approx([If.real, If.imag], abs=1e-12)
    assert Mt @ x == pytest.approx([It.real, It.imag], abs=1e-12)


def test_network_matrix_equals_complex_admittance_built_by_loops():
    g = symmetrica_lite_grid(K=4)
    N = g.n_bus
    # independent Ybus: explicit loop over lines (series only in this case) and loads
    Yc = np.zeros((4, N, N), dtype=complex)
    for line in range(g.n_line):
        f, t, y = g.line_from[line], g.line_to[line], g.line_g[line] + 1j * g.line_b[line]
        Yc[:, f, f] += y
        Yc[:, t, t] += y
        Yc[:, f, t] -= y
        Yc[:, t, f] -= y
    for d in range(g.n_load):
        Yc[:, g.load_bus[d], g.load_bus[d]] += g.load_G[:4, d] + 1j * g.load_B[:4, d]
    rng = np.random.default_rng(0)
    V = rng.normal(1, 0.02, (4, N)) + 1j * rng.normal(0, 0.02, (4, N))
    x = np.stack([V.real, V.imag], axis=1).ravel()
    out = (iv.network_matrix(g) @ x).reshape(4, 2, N)
    ref = np.einsum("kij,kj->ki", Yc, V)
    assert out[:, 0] == pytest.approx(ref.real, abs=1e-10)
    assert out[:, 1] == pytest.approx(ref.imag, abs=1e-10)


def test_epigraphs_are_tight_and_kcl_holds():
    g = symmetrica_lite_grid(K=3)
    prog, net = build_opf(g)
    sol = ClarabelSolver(prog).solve()
    assert sol.status == "optimal"
    Ig = net.gen_currents(sol.x)[:, 0]
    t, z = sol[net.t.name], sol[net.z.name]
    assert t == pytest.approx(np.abs(Ig) ** 2, rel=1e-6)
    assert z == pytest.approx(t**2, rel=1e-6)
    V = net.voltages(sol.x)
    assert np.all(np.abs(V[:, g.ref_bus].imag) < 1e-12)
    assert np.all(np.abs(V) <= 1.1 + 1e-7) and np.all(V.real >= 0.9 - 1e-7)


def test_clarabel_session_resolve_equals_fresh_solve_after_objective_change():
    """A convex-concave iteration changes only the linear objective: re-solving the converted session must
    equal converting and solving the modified program from scratch."""
    g = symmetrica_lite_grid(K=2)
    prog, _ = build_opf(g)
    session = ClarabelSolver(prog)
    session.solve()
    blk = next(iter(prog.blocks.values()))
    prog.add_objective(blk, 1e-3)
    a = session.solve()
    b = solve_clarabel(prog)
    assert a.objective == pytest.approx(b.objective, rel=1e-8)
    assert a.row_duals == pytest.approx(b.row_duals, abs=1e-6)


def test_extra_injection_terms_equal_fixed_injections():
    """The coordinated problem adds (firings x current) into KCL: a variable block fixed by its bounds must
    give the same optimum as the same current put into GridData.extra_injection."""
    base = symmetrica_lite_grid(K=3)
    rng = np.random.default_rng(3)
    draw = np.zeros((3, base.n_bus), dtype=complex)
    draw[:, [0, 8, 16]] = -(0.9 - 0.43589j) * rng.uniform(0.02, 0.08, (3, 3))
    fixed = solve(base.with_options(extra_injection=draw))
    prog = Program("coupled")
    u = prog.add_vars("u", 3, lb=1.0, ub=1.0)  # one "firing" per step
    N = base.n_bus
    rows, cols, vals = [], [], []
    for s in range(3):
        for n in np.flatnonzero(draw[s]):
            rows += [s * 2 * N + n, s * 2 * N + N + n]
            cols += [s, s]
            vals += [draw[s, n].real, draw[s, n].imag]
    M = sp.csr_matrix((vals, (rows, cols)), shape=(3 * 2 * N, 3))
    net = iv.add_iv_network(prog, base, extra_injections=[(u, M)], revenue="none")
    r = net.kcl_rows(2, 1, 16)  # imaginary KCL of bus 17 at the third step
    assert net.kcl_index[r - net.kcl.start] == (2, "i", 17)
    assert prog.A[r, u.start + 2] == pytest.approx(draw[2, 16].imag)
    sol = ClarabelSolver(prog).solve()
    ref = solve(base.with_options(extra_injection=draw), revenue="none")
    assert sol.objective == pytest.approx(float(iv.generator_cost(base, ref.Ig).sum()), rel=1e-7)
    assert net.voltages(sol.x) == pytest.approx(ref.V, abs=1e-7)
    assert fixed.kcl_residual() < 1e-8


def test_secant_angle_sets_the_lower_bound():
    g = symmetrica_lite_grid(K=1).with_options(secant_theta_deg=20.0)
    prog, net = build_opf(g)
    lb = prog.lb[net.V.slice].reshape(2, -1)
    assert lb[0] == pytest.approx(0.9 * np.cos(np.deg2rad(20.0)))


def test_line_limit_binds_and_matches_the_scan():
    g = symmetrica_lite_grid(K=1)
    free = solve(g)  # with demand revenue the voltages sit at the upper bound
    If, _ = free.line_currents()
    j = list(g.line_ids).index("L19")  # trunk 3-20, the most loaded line after the lead line
    limit = 0.97 * abs(If[0, j])
    lim = g.with_options(line_i_max=np.where(np.arange(g.n_line) == j, limit, np.inf))
    res = solve(lim)
    If2, It2 = res.line_currents()
    assert abs(If2[0, j]) == pytest.approx(limit, rel=1e-5)
    assert np.all(np.abs(If2[0]) <= lim.line_i_max + 1e-7)
    assert np.abs(res.V[0, g.ref_bus]) < 1.1 - 1e-3  # the limit pulls the generator voltage down
    sc = scan_opf(lim)
    assert res.objective == pytest.approx(sc.objective.iloc[0], abs=max(10 * sc.tol.iloc[0], 1e-7))


def test_one_way_lines_keep_real_current_nonnegative_and_bind():
    g = symmetrica_lite_grid(K=1)
    # a large PV-like injection at leaf bus 9 pushes current upstream through L17 (10 -> 9)
    inj = np.zeros((1, g.n_bus), dtype=complex)
    inj[0, 8] = 0.3
    both = g.with_options(extra_injection=inj, line_one_way=np.zeros(g.n_line, bool))
    one = g.with_options(extra_injection=inj)
    r2 = solve(both, revenue="none")
    If2, _ = r2.line_currents()
    l17 = list(g.line_ids).index("L17")
    assert If2[0, l17].real < 0  # reverse flow when allowed
    with pytest.raises(InfeasibleError, match="infeasible in 1 of 1 steps"):  # one-way: no reverse flow
        solve(one, revenue="none")
