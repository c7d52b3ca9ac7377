"""IV-AC optimal power flow blocks in rectangular current-voltage form (omtepf.md §3.6–3.8, §3.10).

Every function adds variables / linear rows / second-order cones for a set of time steps to a given
:class:`tenflow.solve.Program` and returns the blocks it created, so that problems (standalone OPF,
coordinated OMTEPF) can reuse them. Line and load currents are *eliminated* through Ohm's law (eq. 49–54):
they are linear in the voltages, so KCL is written directly as ``I_gen + I_extra - Y[k] V = -I_fixed``.

Indexing (all blocks are step-major, then part ``r``/``i``, then element):

* ``V``    column ``s*2N + p*N + n``  (step position ``s`` in ``steps``, part ``p`` 0=real 1=imag, bus ``n``)
* ``Ig``   column ``s*2G + p*G + g``
* KCL row  ``s*2N + p*N + n`` — identical to ``V``; :attr:`IVNetwork.kcl_index` is its ``(step, part, bus)``
  MultiIndex. Extra injections (e.g. EV charging firings x current) are passed as ``(VarBlock, matrix)``
  pairs whose product is the current **injected** into each KCL row (a drawn current has negative entries).

KCL row form and dual: ``sum_g Ig - Y V + extra = D`` with ``D = -(fixed injection)`` the fixed net
*withdrawal*; the row dual ``lambda = d objective / d D`` is the marginal cost of drawing one more unit
of real (``r`` rows) or imaginary (``i`` rows) current at the bus (:func:`bus_lmp` converts it to a price
per unit of active power, mess.md §5.3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tenflow.errors import CaseError
from tenflow.formulations.grid_data import GridData
from tenflow.solve.program import Cone, Program, RowBlock, VarBlock

Array = np.ndarray
ExtraTerms = Sequence[tuple[VarBlock | str, sp.spmatrix | Array]]


def _steps(grid: GridData, steps: Sequence[int] | Array | None) -> Array:
    return np.arange(grid.K) if steps is None else np.asarray(steps, dtype=int)


def _split(Y: sp.spmatrix) -> sp.csr_matrix:
    """Real split ``[[Re Y, -Im Y], [Im Y, Re Y]]`` of a complex matrix."""
    Yr = sp.csr_matrix(Y.real)
    Yi = sp.csr_matrix(Y.imag)
    return sp.bmat([[Yr, -Yi], [Yi, Yr]], format="csr")


def _append_cones(prog: Program, name: str, F_cols: Array, F_rows: int, c: Array, G_cols: Array,
                  rotated: bool = False) -> None:
    """Append many small cones at once: cone ``i`` has F with one unit entry (row 0, column ``F_cols[i]``;
    ``-1`` = empty) and ``c = c[i]``, G with unit entries at ``G_cols[i, :]`` (one per row), ``g = 0``.

    Equivalent to :meth:`Program.add_soc` per cone without its per-call conversions (≈10x faster)."""
    n = prog.n
    m = G_cols.shape[1]
    g0 = np.zeros(m)
    g_ptr = np.arange(m + 1)
    g_val = np.ones(m)
    one = np.ones(1)
    for i in range(len(F_cols)):
        if F_cols[i] >= 0:
            F = sp.csr_matrix((one, np.array([F_cols[i]]), np.array([0, 1] + [1] * (F_rows - 1))), shape=(F_rows, n))
        else:
            F = sp.csr_matrix((F_rows, n))
        G = sp.csr_matrix((g_val, G_cols[i], g_ptr), shape=(m, n))
        prog.cones.append(Cone(name, F, np.array(c[i], dtype=float).reshape(F_rows), G, g0, rotated))


def network_matrix(grid: GridData, steps: Sequence[int] | Array | None = None) -> sp.csr_matrix:
    """Block-diagonal real-split ``Y[k]`` (lines + shunts + load admittances) for the given steps.

    Shape ``(2 N S, 2 N S)``; ``(Y V)`` in row ``s*2N + p*N + n`` is the real/imag part of the current
    leaving bus ``n`` into lines, loads and shunts (eq. 49–54).
    """
    st = _steps(grid, steps)
    N, S = grid.n_bus, len(st)
    base = sp.kron(sp.identity(S, format="csr"), _split(grid.ybus_lines()), format="csr")
    Yd = grid.load_admittance()[st]  # (S, N)
    s_idx = np.repeat(np.arange(S), N)
    n_idx = np.tile(np.arange(N), S)
    g = Yd.real.ravel()
    b = Yd.imag.ravel()
    r_row = s_idx * 2 * N + n_idx
    i_row = r_row + N
    rows = np.concatenate([r_row, r_row, i_row, i_row])
    cols = np.concatenate([r_row, i_row, r_row, i_row])
    vals = np.concatenate([g, -b, b, g])
    return (base + sp.csr_matrix((vals, (rows, cols)), shape=base.shape)).tocsr()


def line_current_matrices(grid: GridData, steps: Sequence[int] | Array | None = None
                          ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Matrices ``(Mf, Mt)`` with ``Mf @ V`` = real/imag line currents at the from / to ends.

    Rows ``s*2L + p*L + l`` (step, part, line), columns as the ``V`` block (pi model, module docstring of
    :mod:`tenflow.formulations.grid_data`).
    """
    st = _steps(grid, steps)
    N, L = grid.n_bus, grid.n_line
    yff, yft, ytf, ytt = grid.line_admittances()
    lines = np.arange(L)

    def one(y1: Array, y2: Array) -> sp.csr_matrix:
        Yc = sp.csr_matrix((np.concatenate([y1, y2]), (np.concatenate([lines, lines]),
                                                        np.concatenate([grid.line_from, grid.line_to]))),
                           shape=(L, N))
        return sp.kron(sp.identity(len(st), format="csr"), _split(Yc), format="csr")

    return one(yff, yft), one(ytf, ytt)


@dataclass
class IVNetwork:
    """The blocks of one IV-ACOPF network over ``steps`` (returned by :func:`add_iv_network`)."""

    grid: GridData
    steps: Array
    V: VarBlock
    Ig: VarBlock
    kcl: RowBlock
    kcl_index: pd.MultiIndex
    t: VarBlock | None = None
    z: VarBlock | None = None
    one_way: RowBlock | None = None
    revenue_slot: int | None = None
    revenue_const: float = 0.0
    cones: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def n_steps(self) -> int:
        return len(self.steps)

    def kcl_rows(self, step_pos: Array | int, part: Array | int, bus_pos: Array | int) -> Array:
        """Program row numbers of KCL rows (``step_pos`` into ``steps``, part 0 = real / 1 = imag, bus position),
        e.g. to add coefficients of other variables into KCL; also the column of ``V`` relative to its start."""
        N = self.grid.n_bus
        return self.kcl.start + np.asarray(step_pos) * 2 * N + np.asarray(part) * N + np.asarray(bus_pos)

    def voltages(self, x: Array) -> Array:
        """Complex voltages ``(S, N)`` from a solution vector (or the ``V`` block values)."""
        v = x[self.V.slice] if x.shape[0] != self.V.size else x
        v = v.reshape(self.n_steps, 2, self.grid.n_bus)
        return v[:, 0] + 1j * v[:, 1]

    def gen_currents(self, x: Array) -> Array:
        """Complex generator currents ``(S, G)``."""
        v = x[self.Ig.slice].reshape(self.n_steps, 2, self.grid.n_gen)
        return v[:, 0] + 1j * v[:, 1]

    def kcl_duals(self, duals: Array) -> Array:
        """Complex KCL duals ``lambda_r + j lambda_i`` ``(S, N)`` from the program's row duals."""
        d = duals[self.kcl.slice].reshape(self.n_steps, 2, self.grid.n_bus)
        return d[:, 0] + 1j * d[:, 1]


# ---------------------------------------------------------------------------------------------- blocks
def add_voltages(prog: Program, grid: GridData, steps: Array, name: str = "V") -> VarBlock:
    """Voltage variables with the secant lower bound and the phase reference as bounds.

    ``Vr_n >= vmin_n cos(theta)`` (eq. 57, §3.6 item 8) and ``Vi_ref = 0`` (eq. 55); ``Vi`` otherwise free,
    ``Vr, Vi`` also boxed by ``[-vmax, vmax]`` (implied by the SOC upper bound, helps the solver).
    """
    N, S = grid.n_bus, len(steps)
    vmax = np.asarray(grid.vmax)
    lb_r = np.asarray(grid.vmin) * np.cos(np.deg2rad(grid.secant_theta_deg))
    lb = np.tile(np.concatenate([lb_r, -vmax]), S)
    ub = np.tile(np.concatenate([vmax, vmax]), S)
    ref_cols = np.arange(S) * 2 * N + N + grid.ref_bus
    lb[ref_cols] = 0.0
    ub[ref_cols] = 0.0
    idx = pd.MultiIndex.from_product([grid.steps[steps], ["r", "i"], grid.buses], names=["step", "part", "bus"])
    return prog.add_vars(name, idx, lb=lb, ub=ub)


def add_vmax_cones(prog: Program, grid: GridData, V: VarBlock, steps: Array, name: str = "vmax") -> tuple[int, int]:
    """Voltage upper bound ``||(Vr_n, Vi_n)|| <= vmax_n`` per bus and step (eq. 56). Returns cone range."""
    N, S = grid.n_bus, len(steps)
    first = len(prog.cones)
    cr = V.start + (np.arange(S)[:, None] * 2 * N + np.arange(N)[None, :]).ravel()
    c = np.tile(np.asarray(grid.vmax, dtype=float), S)
    _append_cones(prog, name, np.full(S * N, -1), 1, c, np.column_stack([cr, cr + N]))
    return first, len(prog.cones)


def add_generators(prog: Program, grid: GridData, steps: Array, name: str = "Ig"
                   ) -> tuple[VarBlock, VarBlock | None, VarBlock | None]:
    """Generator currents with box bounds and the quartic-in-current cost via epigraphs (eq. 62, §3.10).

    ``t_g >= (Ir)^2 + (Ii)^2`` as the rotated cone ``2 t (1/2) >= ||I||^2`` and ``z_g >= t_g^2`` as
    ``2 z (1/2) >= t^2``; objective ``a z + b t + c`` (exact because the cost is non-decreasing in ``t``).
    Returns ``(Ig, t, z)`` (``t``/``z`` are ``None`` when no generator has ``a``/``b`` > 0).
    """
    Gn, S = grid.n_gen, len(steps)
    assert grid.gen_ir_min is not None and grid.gen_ir_max is not None
    assert grid.gen_ii_min is not None and grid.gen_ii_max is not None
    assert grid.gen_cost_a is not None and grid.gen_cost_b is not None and grid.gen_cost_c is not None
    idx = pd.MultiIndex.from_product([grid.steps[steps], ["r", "i"], grid.gen_ids], names=["step", "part", "gen"])
    lb = np.tile(np.concatenate([grid.gen_ir_min, grid.gen_ii_min]), S)
    ub = np.tile(np.concatenate([grid.gen_ir_max, grid.gen_ii_max]), S)
    Ig = prog.add_vars(name, idx, lb=lb, ub=ub)
    prog.const += float(grid.gen_cost_c.sum()) * S
    a, b = grid.gen_cost_a, grid.gen_cost_b
    if not np.any(a > 0) and not np.any(b > 0):
        return Ig, None, None
    tidx = pd.MultiIndex.from_product([grid.steps[steps], grid.gen_ids], names=["step", "gen"])
    t = prog.add_vars(f"{name}_t", tidx, lb=0.0)
    prog.add_objective(t, np.tile(b, S))
    z = None
    if np.any(a > 0):
        z = prog.add_vars(f"{name}_z", tidx, lb=0.0)
        prog.add_objective(z, np.tile(a, S))
    sg = (np.arange(S)[:, None] * Gn + np.arange(Gn)[None, :]).ravel()
    cr = Ig.start + (np.arange(S)[:, None] * 2 * Gn + np.arange(Gn)[None, :]).ravel()
    half = np.tile([[0.0, 0.5]], (S * Gn, 1))
    _append_cones(prog, f"{name}_t", t.start + sg, 2, half, np.column_stack([cr, cr + Gn]), rotated=True)
    if z is not None:
        with_a = np.tile(a > 0, S)
        _append_cones(prog, f"{name}_z", z.start + sg[with_a], 2, half[with_a], (t.start + sg[with_a])[:, None],
                      rotated=True)
    return Ig, t, z


def add_kcl(prog: Program, grid: GridData, V: VarBlock, Ig: VarBlock, steps: Array,
            extra: ExtraTerms = (), name: str = "kcl") -> tuple[RowBlock, pd.MultiIndex]:
    """KCL, real and imaginary, per bus and step (eq. 47 with Ohm/loads eliminated, eq. 49–54).

    ``sum_{g at n} Ig + extra_n - (Y[k] V)_n = -(I_vg + I_extra_fixed)_n``. Returns the row block and its
    ``(step, part, bus)`` index (identical ordering to ``V``).
    """
    N, Gn, S = grid.n_bus, grid.n_gen, len(steps)
    Y = network_matrix(grid, steps)
    g_cols = np.arange(S * 2 * Gn)
    s_of = g_cols // (2 * Gn)
    p_of = (g_cols // Gn) % 2
    g_of = g_cols % Gn
    Agen = sp.csr_matrix((np.ones(len(g_cols)), (s_of * 2 * N + p_of * N + grid.gen_bus[g_of], g_cols)),
                         shape=(S * 2 * N, S * 2 * Gn))
    inj = grid.fixed_injection()[steps]  # (S, N)
    rhs = -np.stack([inj.real, inj.imag], axis=1).ravel()
    terms: list[tuple[VarBlock | str, sp.spmatrix | Array]] = [(Ig, Agen), (V, -Y)]
    terms.extend(extra)
    idx = pd.MultiIndex.from_product([grid.steps[steps], ["r", "i"], grid.buses], names=["step", "part", "bus"])
    rb = prog.add_rows(name, terms, lo=rhs, hi=rhs, index=idx)
    return rb, idx


def add_one_way(prog: Program, grid: GridData, V: VarBlock, steps: Array, name: str = "one_way"
                ) -> RowBlock | None:
    """One-way lines ``Re I_f >= 0`` for lines flagged ``one_way`` (§3.6 item 5, §9 item 10)."""
    assert grid.line_one_way is not None
    sel = np.flatnonzero(grid.line_one_way)
    if sel.size == 0:
        return None
    Mf, _ = line_current_matrices(grid, steps)
    L = grid.n_line
    rows = (np.arange(len(steps))[:, None] * 2 * L + sel[None, :]).ravel()
    idx = pd.MultiIndex.from_product([grid.steps[steps], grid.line_ids[sel]], names=["step", "line"])
    return prog.add_rows(name, [(V, Mf[rows])], lo=0.0, index=idx)


def add_line_limits(prog: Program, grid: GridData, V: VarBlock, steps: Array, name: str = "i_max") -> int:
    """Optional thermal limits ``|I_f| <= i_max`` and ``|I_t| <= i_max`` (SOC, §3.6 item 6). Returns count."""
    assert grid.line_i_max is not None
    sel = np.flatnonzero(np.isfinite(grid.line_i_max))
    if sel.size == 0:
        return 0
    Mf, Mt = line_current_matrices(grid, steps)
    L = grid.n_line
    count = 0
    for M in (Mf, Mt):
        m = M.shape[0]
        Mfull = sp.hstack([sp.csr_matrix((m, V.start)), M, sp.csr_matrix((m, prog.n - V.start - V.size))],
                          format="csr")
        for s in range(len(steps)):
            for line in sel:
                r = s * 2 * L + line
                prog.add_soc(name, sp.csr_matrix((1, prog.n)), grid.line_i_max[line], Mfull[[r, r + L]], 0.0)
                count += 1
    return count


def revenue_tangent(grid: GridData, steps: Array, v_hat: Array) -> tuple[Array, float]:
    """Linear coefficients on ``V`` and constant of ``-R_D`` linearised at ``v_hat`` (§3.10 option 2).

    ``R_D = sum h(|V_n|^2)`` with ``h(s) = q s^2 + w s + gamma`` (:meth:`GridData.revenue_coefficients`).
    The tangent ``R_D(V) ~ h(s^) + h'(s^) 2 Re(conj(V^)(V - V^))`` under-estimates the convex ``R_D``, so
    ``-R_D`` is majorised: each convex–concave iteration decreases the true objective.
    ``v_hat`` is ``(S, N)`` complex. Returns ``(coef over the V block, constant)``.
    """
    q, w, gam = (a[steps] for a in grid.revenue_coefficients())
    s_hat = np.abs(v_hat) ** 2
    h = q * s_hat**2 + w * s_hat + gam
    dh = 2 * q * s_hat + w
    coef = np.stack([-2 * dh * v_hat.real, -2 * dh * v_hat.imag], axis=1).ravel()
    const = float(np.sum(-h + 2 * dh * s_hat))
    return coef, const


def revenue_is_concave_part(grid: GridData) -> Array:
    """Mask ``(K, N)`` where ``-R_D`` is convex in V (``q = 0, w <= 0``) and is added exactly."""
    q, w, _ = grid.revenue_coefficients()
    return (q == 0) & (w <= 0)


def check_revenue_supported(grid: GridData) -> None:
    """The tangent majoriser needs ``R_D`` convex in V where it is linearised: ``q >= 0`` and ``h' >= 0``."""
    q, w, _ = grid.revenue_coefficients()
    bad = np.argwhere((q < 0) | ((q > 0) & (w < 0)))
    if bad.size:
        k, n = bad[0]
        raise CaseError(f"demand-revenue coefficients at bus {grid.buses[n]!r}, step {grid.steps[k]} give a "
                        f"revenue that is neither convex nor concave in |V|^2 (alpha < 0 or alpha > 0 with "
                        f"beta < 0): not supported by the convex-concave procedure (omtepf.md §3.10)",
                        field="alpha_p/beta_p", code="E-REVENUE")


def add_demand_revenue(prog: Program, grid: GridData, V: VarBlock, steps: Array,
                       v_hat: Array | None = None) -> tuple[int | None, float]:
    """Add ``-R_D`` (eq. 65): exact convex part as a quadratic, the rest as a tangent at ``v_hat``.

    Returns ``(slot, const)``: the position of the linear tangent term in ``prog._c`` (so that
    :func:`update_revenue_tangent` can replace it between convex–concave iterations) and the constant
    added to ``prog.const``.
    """
    check_revenue_supported(grid)
    N, S = grid.n_bus, len(steps)
    q, w, gam = (a[steps] for a in grid.revenue_coefficients())
    exact = revenue_is_concave_part(grid)[steps]
    if np.any(exact & (w < 0)):
        diag = np.where(exact, -w, 0.0)  # objective -w |V|^2 = 1/2 V^T (2 (-w)) V
        d = np.stack([diag, diag], axis=1).ravel() * 2.0
        cols = V.cols
        prog.add_quadratic(sp.coo_matrix((d, (cols, cols)), shape=(prog.n, prog.n)))
    gq = np.where(exact, 0.0, 1.0)
    lin_grid_mask = ~exact
    if not np.any(lin_grid_mask & ((w != 0) | (q != 0))):
        const = -float(np.sum(gam))
        prog.const += const
        return None, const
    if v_hat is None:
        v_hat = np.ones((S, N), dtype=complex)
    coef, const = _masked_tangent(grid, steps, v_hat, gq)
    const -= float(np.sum(gam * exact))
    slot = len(prog._c)
    prog.add_objective(V, coef)
    prog.const += const
    return slot, const


def _masked_tangent(grid: GridData, steps: Array, v_hat: Array, mask: Array) -> tuple[Array, float]:
    q, w, gam = (a[steps] for a in grid.revenue_coefficients())
    s_hat = np.abs(v_hat) ** 2
    h = (q * s_hat**2 + w * s_hat + gam) * mask
    dh = (2 * q * s_hat + w) * mask
    coef = np.stack([-2 * dh * v_hat.real, -2 * dh * v_hat.imag], axis=1).ravel()
    const = float(np.sum(-h + 2 * dh * s_hat))
    return coef, const


def update_revenue_tangent(prog: Program, net: IVNetwork, v_hat: Array) -> None:
    """Re-linearise the demand revenue at ``v_hat`` (one convex–concave iteration, §3.10 option 2)."""
    if net.revenue_slot is None:
        return
    grid, steps = net.grid, net.steps
    exact = revenue_is_concave_part(grid)[steps]
    _, _, gam = (a[steps] for a in grid.revenue_coefficients())
    coef, const = _masked_tangent(grid, steps, v_hat, np.where(exact, 0.0, 1.0))
    const -= float(np.sum(gam * exact))
    prog._c[net.revenue_slot] = (net.V.cols, coef)
    prog.const += const - net.revenue_const
    net.revenue_const = const


def add_iv_network(prog: Program, grid: GridData, steps: Sequence[int] | Array | None = None, *,
                   extra_injections: ExtraTerms = (), revenue: str = "tangent", v_hat: Array | None = None,
                   prefix: str = "") -> IVNetwork:
    """All IV-ACOPF blocks of omtepf.md §3.6–3.8 for ``steps`` (default: all), like ``build_opf_iv``.

    Parameters
    ----------
    prog
        Program to add to.
    grid
        Validated :class:`GridData`.
    steps
        Step positions (into ``grid.steps``).
    extra_injections
        ``(VarBlock, matrix)`` pairs; ``matrix @ x`` is current injected into the KCL rows (row order as
        ``V``, see module docstring). The coordinated OMTEPF problem passes ``-(charging current x firings)``.
    revenue
        ``"tangent"`` (linearised at ``v_hat``, default flat ``1∠0``; convex–concave iterations update it
        with :func:`update_revenue_tangent`) or ``"none"`` (no demand revenue in the objective).
    v_hat
        ``(S, N)`` complex linearisation point.
    prefix
        Prefix of block names (to put several networks in one program).
    """
    st = _steps(grid, steps)
    V = add_voltages(prog, grid, st, name=f"{prefix}V")
    Ig, t, z = add_generators(prog, grid, st, name=f"{prefix}Ig")
    kcl, kidx = add_kcl(prog, grid, V, Ig, st, extra=extra_injections, name=f"{prefix}kcl")
    ow = add_one_way(prog, grid, V, st, name=f"{prefix}one_way")
    cones: dict[str, tuple[int, int]] = {"vmax": add_vmax_cones(prog, grid, V, st, name=f"{prefix}vmax")}
    first = len(prog.cones)
    add_line_limits(prog, grid, V, st, name=f"{prefix}i_max")
    cones["i_max"] = (first, len(prog.cones))
    net = IVNetwork(grid=grid, steps=st, V=V, Ig=Ig, kcl=kcl, kcl_index=kidx, t=t, z=z, one_way=ow, cones=cones)
    if revenue == "tangent":
        slot, const = add_demand_revenue(prog, grid, V, st, v_hat)
        net.revenue_slot, net.revenue_const = slot, const
    elif revenue != "none":
        raise ValueError(f"revenue must be 'tangent' or 'none', not {revenue!r}")
    return net


# ---------------------------------------------------------------------------------------------- evaluation
def generator_cost(grid: GridData, Ig: Array) -> Array:
    """Exact generator cost ``a |I|^4 + b |I|^2 + c`` per step and generator ``(S, G)`` (eq. 62)."""
    m2 = np.abs(Ig) ** 2
    return grid.gen_cost_a * m2**2 + grid.gen_cost_b * m2 + grid.gen_cost_c


def generator_cost_power_form(grid: GridData, V: Array, Ig: Array) -> Array:
    """The same cost written in power, ``a |S|^4 + b |S|^2 + c`` with ``S = V conj(I)`` (§3.8).

    Equal to :func:`generator_cost` when ``|V_gen| = 1`` (``|S| = |V||I|``). Note: omtepf.md §3.8 writes
    ``a|I|^4 ~ a|S|^2``; dimensionally ``|I|^4 = |S|^4 / |V|^4``, so the power form of the quartic-in-current
    cost is quadratic in ``|S|^2 = P^2 + Q^2``.
    """
    S = V[:, grid.gen_bus] * np.conj(Ig)
    m2 = np.abs(S) ** 2
    return grid.gen_cost_a * m2**2 + grid.gen_cost_b * m2 + grid.gen_cost_c


def demand_revenue(grid: GridData, V: Array, steps: Array | None = None) -> Array:
    """Exact demand revenue per step ``(S,)`` (eq. 65) at complex voltages ``V`` ``(S, N)``."""
    st = _steps(grid, steps)
    q, w, gam = (a[st] for a in grid.revenue_coefficients())
    s = np.abs(V) ** 2
    return np.sum(q * s**2 + w * s + gam, axis=1)


def true_objective(grid: GridData, V: Array, Ig: Array, steps: Array | None = None) -> Array:
    """True per-step objective ``C_G - R_D`` (exact quartic cost and exact revenue)."""
    return generator_cost(grid, Ig).sum(axis=1) - demand_revenue(grid, V, steps)


def bus_lmp(V: Array, lam: Array) -> Array:
    """Price per unit of active power at each bus from complex KCL duals (mess.md §5.3).

    A demand ``dP`` at voltage ``V`` draws ``dI = dP V / |V|^2``, hence
    ``LMP = (lambda_r Vr + lambda_i Vi) / |V|^2``.
    """
    return (lam.real * V.real + lam.imag * V.imag) / np.abs(V) ** 2
