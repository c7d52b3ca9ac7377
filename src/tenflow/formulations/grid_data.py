"""Plain data for the multi-period IV-AC optimal power flow (omtepf.md §2.3, §3.6–3.8, §4.3, §4.5).

:class:`GridData` is the *data-extraction result* the IV-ACOPF formulation blocks consume: buses, lines
(pi model), dispatchable generators, variable-generator current profiles, time-varying load admittances,
fixed extra injections, voltage bounds, secant angle, reference bus and demand-revenue coefficients.
It never touches solver variables (DEVELOPERS.md layering); it is built from a :class:`tenflow.case.Case`
(:func:`tenflow.problems.opf.grid_from_case`), from pandapower feeders
(:mod:`tenflow.case.pandapower_import`) or directly.

Conventions (all per unit):

* complex voltages ``V = Vr + j Vi``; a *positive injection* is current flowing into a bus;
* a line ``l = (f -> t)`` is a pi model (MATPOWER convention) with series admittance ``y = g + j b``,
  total shunt admittance ``g_sh + j b_sh`` (half at each end) and off-nominal tap ``tau`` at the from end::

      I_f = (y + y_sh/2) / tau^2 * V_f - y / tau * V_t      (current leaving f into the line)
      I_t = -y / tau * V_f + (y + y_sh/2) * V_t             (current leaving t into the line)

  which for ``tau = 1, y_sh = 0`` is Ohm's law of omtepf.md eq. 50–51, ``I_l = y (V_f - V_t)``;
* loads are admittances ``Y_d[k] = G_d[k] + j B_d[k]`` (eq. 52–54): ``P_d = G_d |V|^2``, ``Q_d = -B_d |V|^2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from tenflow.errors import IssueCollector

Array = np.ndarray


def _arr(x: Any, n: int, dtype: Any = float) -> Array:
    return np.broadcast_to(np.asarray(x, dtype=dtype), (n,)).copy()


@dataclass
class GridData:
    """Electrical data of one multi-period IV-ACOPF (omtepf.md §2.3, §3.7; see module docstring).

    Bus references (``line_from``, ``gen_bus`` ...) are **positions** into ``buses``. Time-varying arrays
    have shape ``(K, ·)`` with ``K = len(steps)``. Optional per-element fields accept a scalar or an array
    (or ``None`` for the default) and are normalised to numpy arrays in ``__post_init__``.

    Parameters
    ----------
    buses
        Bus labels (any hashable, e.g. buffer ids).
    steps
        Step labels (``k``), length ``K``.
    line_ids, line_from, line_to, line_g, line_b
        Line labels, from/to bus positions, series conductance and susceptance.
    line_g_shunt, line_b_shunt, line_tap, line_i_max, line_one_way
        Total shunt admittance (pi model), tap ratio at the from end (1 = none), current limit (``inf`` =
        none, §3.6 item 6) and the one-way flag ``Re I_f >= 0`` (§3.6 item 5).
    gen_ids, gen_bus, gen_cost_a, gen_cost_b, gen_cost_c, gen_ir_min, gen_ir_max, gen_ii_min, gen_ii_max
        Dispatchable generators as current sources, cost ``a |I|^4 + b |I|^2 + c`` per step (eq. 62).
    vg_ids, vg_bus, vg_current
        Variable generators: fixed injected current ``(K, n_vg)`` complex (§4.5).
    load_ids, load_bus, load_G, load_B
        Admittance loads ``(K, n_load)``.
    load_alpha_p, load_beta_p, load_alpha_q, load_beta_q, load_gamma
        Demand-revenue coefficients per load (eq. 65).
    extra_injection
        Fixed extra injection ``(K, n_bus)`` complex (e.g. minus a fixed charging current).
    bus_shunt
        Constant admittance to ground per bus (complex, e.g. imported capacitor banks).
    vmin, vmax
        Voltage magnitude bounds per bus (eq. 56–57).
    secant_theta_deg
        Secant angle of the lower bound ``Vr >= vmin cos(theta)`` (§3.6 item 8).
    ref_bus
        Position of the phase-reference bus (``Vi = 0``, eq. 55).
    name, base
        Name and a free-form dict of base quantities (e.g. ``{"s_mva": 1.0}``) for reporting.
    """

    buses: pd.Index
    steps: pd.Index
    line_ids: pd.Index
    line_from: Array
    line_to: Array
    line_g: Array
    line_b: Array
    gen_ids: pd.Index
    gen_bus: Array
    load_ids: pd.Index
    load_bus: Array
    load_G: Array
    load_B: Array
    line_g_shunt: Any = None
    line_b_shunt: Any = None
    line_tap: Any = None
    line_i_max: Any = None
    line_one_way: Any = None
    gen_cost_a: Any = None
    gen_cost_b: Any = None
    gen_cost_c: Any = None
    gen_ir_min: Any = None
    gen_ir_max: Any = None
    gen_ii_min: Any = None
    gen_ii_max: Any = None
    vg_ids: pd.Index = field(default_factory=lambda: pd.Index([]))
    vg_bus: Array = field(default_factory=lambda: np.zeros(0, dtype=int))
    vg_current: Any = None
    load_alpha_p: Any = None
    load_beta_p: Any = None
    load_alpha_q: Any = None
    load_beta_q: Any = None
    load_gamma: Any = None
    extra_injection: Any = None
    bus_shunt: Any = None
    vmin: Any = 0.9
    vmax: Any = 1.1
    secant_theta_deg: float = 0.0
    ref_bus: int = 0
    name: str = "grid"
    base: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ normalisation
    def __post_init__(self) -> None:
        self.buses = pd.Index(self.buses)
        self.steps = pd.Index(self.steps)
        self.line_ids = pd.Index(self.line_ids)
        self.gen_ids = pd.Index(self.gen_ids)
        self.load_ids = pd.Index(self.load_ids)
        self.vg_ids = pd.Index(self.vg_ids)
        N, L, G, D, S, K = self.n_bus, self.n_line, self.n_gen, self.n_load, self.n_vg, self.K
        self.line_from = np.asarray(self.line_from, dtype=int)
        self.line_to = np.asarray(self.line_to, dtype=int)
        self.line_g = _arr(self.line_g, L)
        self.line_b = _arr(self.line_b, L)
        self.line_g_shunt = _arr(0.0 if self.line_g_shunt is None else self.line_g_shunt, L)
        self.line_b_shunt = _arr(0.0 if self.line_b_shunt is None else self.line_b_shunt, L)
        self.line_tap = _arr(1.0 if self.line_tap is None else self.line_tap, L)
        self.line_i_max = _arr(np.inf if self.line_i_max is None else self.line_i_max, L)
        self.line_one_way = _arr(False if self.line_one_way is None else self.line_one_way, L, bool)
        self.gen_bus = np.asarray(self.gen_bus, dtype=int)
        self.gen_cost_a = _arr(0.0 if self.gen_cost_a is None else self.gen_cost_a, G)
        self.gen_cost_b = _arr(0.0 if self.gen_cost_b is None else self.gen_cost_b, G)
        self.gen_cost_c = _arr(0.0 if self.gen_cost_c is None else self.gen_cost_c, G)
        self.gen_ir_min = _arr(0.0 if self.gen_ir_min is None else self.gen_ir_min, G)
        self.gen_ir_max = _arr(np.inf if self.gen_ir_max is None else self.gen_ir_max, G)
        self.gen_ii_min = _arr(-np.inf if self.gen_ii_min is None else self.gen_ii_min, G)
        self.gen_ii_max = _arr(np.inf if self.gen_ii_max is None else self.gen_ii_max, G)
        self.vg_bus = np.asarray(self.vg_bus, dtype=int)
        self.vg_current = (np.zeros((K, S), dtype=complex) if self.vg_current is None
                           else np.asarray(self.vg_current, dtype=complex))
        self.load_bus = np.asarray(self.load_bus, dtype=int)
        self.load_G = np.asarray(self.load_G, dtype=float)
        self.load_B = np.asarray(self.load_B, dtype=float)
        for nm in ("load_alpha_p", "load_beta_p", "load_alpha_q", "load_beta_q", "load_gamma"):
            v = getattr(self, nm)
            setattr(self, nm, _arr(0.0 if v is None else v, D))
        self.extra_injection = (np.zeros((K, N), dtype=complex) if self.extra_injection is None
                                else np.asarray(self.extra_injection, dtype=complex))
        self.bus_shunt = _arr(0.0 if self.bus_shunt is None else self.bus_shunt, N, complex)
        self.vmin = _arr(self.vmin, N)
        self.vmax = _arr(self.vmax, N)

    # ------------------------------------------------------------------ sizes
    @property
    def n_bus(self) -> int:
        return len(self.buses)

    @property
    def n_line(self) -> int:
        return len(self.line_ids)

    @property
    def n_gen(self) -> int:
        return len(self.gen_ids)

    @property
    def n_load(self) -> int:
        return len(self.load_ids)

    @property
    def n_vg(self) -> int:
        return len(self.vg_ids)

    @property
    def K(self) -> int:
        return len(self.steps)

    @property
    def step_hours(self) -> float:
        """Length of one step in hours: ``base["step_minutes"] / 60`` when known, else ``24 / K`` (one day)."""
        if "step_minutes" in self.base:
            return float(self.base["step_minutes"]) / 60.0
        return 24.0 / max(self.K, 1)

    @property
    def start_hour(self) -> float:
        """Clock hour of the start of step 0 (``base["start_time"]`` ``"HH:MM"``; 0 when unknown)."""
        st = str(self.base.get("start_time", "00:00"))
        try:
            hh, mm = st.split(":")
            return int(hh) + int(mm) / 60.0
        except ValueError:
            return 0.0

    # ------------------------------------------------------------------ validation
    def validate(self) -> GridData:
        """Check sizes, references, admittances, connectivity and bounds; raise one :class:`CaseError`.

        Names the offending line / load / generator / bus and the reason (common.md: no numpy traceback).
        Returns ``self`` for chaining.
        """
        ic = IssueCollector()
        N, K = self.n_bus, self.K
        if N == 0:
            ic.add("the grid has no buses", code="E-GRID-EMPTY")
            ic.raise_if_any()
        if K == 0:
            ic.add("the grid has no time steps", code="E-GRID-STEPS")
        for what, ids, arrs in (
            ("line", self.line_ids, (("from", self.line_from), ("to", self.line_to))),
            ("generator", self.gen_ids, (("bus", self.gen_bus),)),
            ("load", self.load_ids, (("bus", self.load_bus),)),
            ("variable generator", self.vg_ids, (("bus", self.vg_bus),)),
        ):
            for fld, a in arrs:
                if len(a) != len(ids):
                    ic.add(f"{len(ids)} {what}s but {len(a)} '{fld}' entries", field=fld, code="E-GRID-SHAPE")
                    continue
                bad = np.flatnonzero((a < 0) | (a >= N))
                for i in bad:
                    ic.add(f"{what} {ids[i]!r}: {fld} bus position {a[i]} is not a bus", field=fld,
                           code="E-GRID-BUSREF")
        if not (0 <= self.ref_bus < N):
            ic.add(f"reference bus position {self.ref_bus} is not a bus", field="ref_bus", code="E-GRID-REF")
        y = self.line_g + 1j * self.line_b
        for i in np.flatnonzero(~np.isfinite(y) | (np.abs(y) == 0.0)):
            ic.add(f"line {self.line_ids[i]!r} ({self.buses[self.line_from[i]]}->{self.buses[self.line_to[i]]}) "
                   f"has zero or non-finite series admittance g={self.line_g[i]}, b={self.line_b[i]}",
                   field="g/b", code="E-LINE-ZERO-Y")
        for i in np.flatnonzero(self.line_from == self.line_to):
            ic.add(f"line {self.line_ids[i]!r} connects bus {self.buses[self.line_from[i]]} to itself",
                   code="E-LINE-LOOP")
        for i in np.flatnonzero(~(np.abs(self.line_tap) > 0)):
            ic.add(f"line {self.line_ids[i]!r}: tap ratio {self.line_tap[i]} must be > 0", field="tap",
                   code="E-LINE-TAP")
        for nm, arr, ncol, ids in (("load_G", self.load_G, self.n_load, self.load_ids),
                                   ("load_B", self.load_B, self.n_load, self.load_ids),
                                   ("vg_current", self.vg_current, self.n_vg, self.vg_ids),
                                   ("extra_injection", self.extra_injection, N, self.buses)):
            if arr.ndim != 2 or arr.shape != (K, ncol):
                ic.add(f"{nm} has shape {arr.shape}, expected (K={K} steps, {ncol})", field=nm,
                       code="E-PROFILE-LENGTH")
            elif not np.all(np.isfinite(arr)):
                r, c = np.argwhere(~np.isfinite(arr))[0]
                ic.add(f"{nm}: non-finite value for {ids[c]!r} at step {self.steps[r]}", field=nm,
                       code="E-PROFILE-NAN")
        for i in np.flatnonzero(self.vmin > self.vmax):
            ic.add(f"bus {self.buses[i]!r}: vmin={self.vmin[i]} > vmax={self.vmax[i]} (empty voltage band)",
                   field="vmin/vmax", code="E-VBAND")
        for i in np.flatnonzero(self.vmax <= 0):
            ic.add(f"bus {self.buses[i]!r}: vmax={self.vmax[i]} must be > 0", field="vmax", code="E-VBAND")
        if not (0.0 <= self.secant_theta_deg < 90.0):
            ic.add(f"secant angle {self.secant_theta_deg} deg must be in [0, 90)", field="secant_theta_deg",
                   code="E-SECANT")
        for i in np.flatnonzero((self.gen_ir_min > self.gen_ir_max) | (self.gen_ii_min > self.gen_ii_max)):
            ic.add(f"generator {self.gen_ids[i]!r}: empty current box", code="E-GEN-BOX")
        for i in np.flatnonzero((self.gen_cost_a < 0) | (self.gen_cost_b < 0)):
            ic.add(f"generator {self.gen_ids[i]!r}: cost coefficients a={self.gen_cost_a[i]}, "
                   f"b={self.gen_cost_b[i]} must be >= 0 (convex cost, omtepf.md §3.10)", code="E-GEN-COST")
        if self.n_gen == 0:
            ic.add("the grid has no dispatchable generator (nothing can balance the loads)", code="E-GRID-NOGEN")
        if ic:
            ic.raise_if_any()
        # islands: every bus must be connected (through lines with non-zero admittance) to the reference
        ok = np.abs(y) > 0
        A = sp.coo_matrix((np.ones(int(ok.sum())), (self.line_from[ok], self.line_to[ok])), shape=(N, N))
        ncomp, lab = connected_components(A, directed=False)
        if ncomp > 1:
            ref_comp = lab[self.ref_bus]
            for c in range(ncomp):
                if c == ref_comp:
                    continue
                members = [str(b) for b in self.buses[lab == c]]
                has_gen = bool(np.isin(self.gen_bus, np.flatnonzero(lab == c)).any())
                ic.add(f"island: buses {members} are not connected to the reference bus "
                       f"{self.buses[self.ref_bus]!r}" + (" (it has its own generator)" if has_gen else ""),
                       code="E-GRID-ISLAND")
            ic.raise_if_any()
        return self

    # ------------------------------------------------------------------ admittances
    def line_admittances(self) -> tuple[Array, Array, Array, Array]:
        """Pi-model two-port admittances ``(Yff, Yft, Ytf, Ytt)`` per line (see module docstring)."""
        assert self.line_tap is not None and self.line_g_shunt is not None and self.line_b_shunt is not None
        y = self.line_g + 1j * self.line_b
        ysh = self.line_g_shunt + 1j * self.line_b_shunt
        tau = self.line_tap.astype(complex)
        ytt = y + ysh / 2.0
        yff = ytt / np.abs(tau) ** 2
        yft = -y / np.conj(tau)
        ytf = -y / tau
        return yff, yft, ytf, ytt

    def ybus_lines(self) -> sp.csr_matrix:
        """Bus admittance matrix of the lines and constant bus shunts (complex, ``N x N``)."""
        N = self.n_bus
        f, t = self.line_from, self.line_to
        yff, yft, ytf, ytt = self.line_admittances()
        rows = np.concatenate([f, f, t, t, np.arange(N)])
        cols = np.concatenate([f, t, f, t, np.arange(N)])
        vals = np.concatenate([yff, yft, ytf, ytt, np.asarray(self.bus_shunt, dtype=complex)])
        return sp.csr_matrix((vals, (rows, cols)), shape=(N, N))

    def load_admittance(self) -> Array:
        """Per-bus load admittance ``(K, N)`` complex (sum of the loads at each bus)."""
        Y = np.zeros((self.K, self.n_bus), dtype=complex)
        if self.n_load:
            np.add.at(Y.T, self.load_bus, (self.load_G + 1j * self.load_B).T)
        return Y

    def fixed_injection(self) -> Array:
        """Fixed injected current per bus ``(K, N)``: variable generators plus extra injections."""
        inj = np.array(self.extra_injection, dtype=complex, copy=True)
        if self.n_vg:
            np.add.at(inj.T, self.vg_bus, np.asarray(self.vg_current).T)
        return inj

    def revenue_coefficients(self) -> tuple[Array, Array, Array]:
        """Demand revenue per bus and step as ``h(s) = q s^2 + w s + gamma`` of ``s = |V|^2`` (eq. 65).

        Returns ``(q, w, gamma)`` each ``(K, N)``: ``q = sum alpha_P G^2 + alpha_Q B^2``,
        ``w = sum beta_P G - beta_Q B`` (``Q_d = -B_d |V|^2``), ``gamma = sum gamma_d``.
        """
        K, N = self.K, self.n_bus
        q = np.zeros((K, N))
        w = np.zeros((K, N))
        g = np.zeros((K, N))
        if self.n_load:
            G, B = self.load_G, self.load_B
            np.add.at(q.T, self.load_bus, (self.load_alpha_p * G**2 + self.load_alpha_q * B**2).T)
            np.add.at(w.T, self.load_bus, (self.load_beta_p * G - self.load_beta_q * B).T)
            np.add.at(g.T, self.load_bus, np.broadcast_to(self.load_gamma, G.shape).T)
        return q, w, g

    # ------------------------------------------------------------------ helpers
    def subset_steps(self, positions: Sequence[int] | Array) -> GridData:
        """A copy restricted to the given step positions (used to name infeasible steps)."""
        pos = np.asarray(positions, dtype=int)
        return replace(self, steps=self.steps[pos], load_G=self.load_G[pos], load_B=self.load_B[pos],
                       vg_current=np.asarray(self.vg_current)[pos],
                       extra_injection=np.asarray(self.extra_injection)[pos])

    def with_options(self, **changes: Any) -> GridData:
        """A copy with some fields replaced (e.g. ``secant_theta_deg``, ``vmin``, ``extra_injection``)."""
        return replace(self, **changes)


# ---------------------------------------------------------------------------------------------
# Extraction from a tenflow Case (omtepf.md §8.1 format)
# ---------------------------------------------------------------------------------------------
def grid_from_case(case: Any, *, extra_injection: Array | None = None) -> GridData:
    """Extract the :class:`GridData` of a validated :class:`tenflow.case.Case`.

    Buses are the buffers with ``is_bus``; line/generator/load/PV bus references are resolved by id;
    load admittances and PV currents come from the case's profiles (``Case.load_admittance``,
    ``Case.pv_current``); the generator-free reference bus is the bus of the first generator (eq. 55).
    Options ``v_min``, ``v_max``, ``secant_theta_deg`` and the per-line ``one_way`` flag are used.
    ``extra_injection`` ``(K, N)`` complex adds fixed injections (e.g. minus a fixed charging current).
    """
    ic = IssueCollector()
    bus_ids = [str(b) for b in case.bus_ids]
    pos = {b: i for i, b in enumerate(bus_ids)}

    def ref(table: str, col: str, values: Any) -> Array:
        out = np.zeros(len(values), dtype=int)
        for r, v in enumerate(values):
            if str(v) not in pos:
                ic.add(f"'{v}' is not an electrical bus (buffer with is_bus = true)", file=f"{table}.csv",
                       row=r + 1, field=col, code="E-GRID-BUSREF")
            else:
                out[r] = pos[str(v)]
        return out

    L, Gt, D, S = case.lines, case.generators, case.loads, case.variable_generators
    lf, lt = ref("lines", "from", L["from"]), ref("lines", "to", L["to"])
    gb = ref("generators", "bus", Gt["bus"])
    db = ref("loads", "bus", D["bus"])
    sb = ref("variable_generators", "bus", S["bus"])
    ic.raise_if_any()
    Gd, Bd = case.load_admittance()
    one_way = L["one_way"].astype(object).where(L["one_way"].notna(), case.options["one_way_lines"])
    K = case.K
    i_max = L["i_max"].to_numpy(dtype=float)
    grid = GridData(
        buses=pd.Index(bus_ids, name="bus"), steps=pd.RangeIndex(K, name="k"),
        line_ids=pd.Index(L["id"].astype(str), name="line"), line_from=lf, line_to=lt,
        line_g=L["g"].to_numpy(dtype=float), line_b=L["b"].to_numpy(dtype=float),
        line_b_shunt=L["b_shunt"].to_numpy(dtype=float), line_tap=L["tap"].to_numpy(dtype=float),
        line_i_max=np.where(np.isnan(i_max), np.inf, i_max), line_one_way=one_way.to_numpy(dtype=bool),
        gen_ids=pd.Index(Gt["id"].astype(str), name="generator"), gen_bus=gb,
        gen_cost_a=Gt["cost_a"].to_numpy(dtype=float), gen_cost_b=Gt["cost_b"].to_numpy(dtype=float),
        gen_cost_c=Gt["cost_c"].to_numpy(dtype=float), gen_ir_min=Gt["ir_min"].to_numpy(dtype=float),
        gen_ir_max=Gt["ir_max"].to_numpy(dtype=float), gen_ii_min=Gt["ii_min"].to_numpy(dtype=float),
        gen_ii_max=Gt["ii_max"].to_numpy(dtype=float),
        vg_ids=pd.Index(S["id"].astype(str), name="variable_generator"), vg_bus=sb, vg_current=case.pv_current(),
        load_ids=pd.Index(D["id"].astype(str), name="load"), load_bus=db, load_G=Gd, load_B=Bd,
        load_alpha_p=D["alpha_p"].to_numpy(dtype=float), load_beta_p=D["beta_p"].to_numpy(dtype=float),
        load_alpha_q=D["alpha_q"].to_numpy(dtype=float), load_beta_q=D["beta_q"].to_numpy(dtype=float),
        load_gamma=D["gamma"].to_numpy(dtype=float),
        extra_injection=extra_injection, vmin=float(case.options["v_min"]), vmax=float(case.options["v_max"]),
        secant_theta_deg=float(case.options["secant_theta_deg"]), ref_bus=int(gb[0]) if len(gb) else 0,
        name=str(case.name), base={"s_mva": float(case.meta["s_base_mva"]), "v_kv": float(case.meta["v_base_kv"]),
                                   "step_minutes": int(case.meta["step_minutes"]),
                                   "start_time": str(case.meta["start_time"])},
    )
    return grid.validate()
