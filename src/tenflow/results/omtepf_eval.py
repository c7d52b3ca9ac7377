"""Evaluation of an OMTEPF day plan: the one evaluator used for both operating modes.

Every number reported for a :class:`~tenflow.problems.omtepf_solution.OmtepfSolution` is recomputed here
from the *case data* and the solution's decisions (EV firings, queued EV-steps, SoC, bus voltages,
generator currents); nothing the solver computed besides those decisions is trusted:

* line currents (pi model, omtepf.md §3.7 eqs. 49–51) and load currents (eqs. 52–54) are recomputed
  from the voltages; per-firing charging currents, SoC rates, costs and revenues are taken from the
  case tables (the solution's own ``current_re/current_im/rate`` columns are only cross-checked);
* generator cost is the exact quartic form in current (eq. 62), demand revenue the exact form with
  ``P_d = G_d |V|^2``, ``Q_d = -B_d |V|^2`` (eq. 64), the solar "cost" the ex-post report
  ``lambda_S * E_S`` (omtepf.md §3.8, "Reporting");
* Tables VIII, IX, X and the metrics follow omtepf.md §6.1–§6.3; time series follow §6.3 (Figs. 8, 9);
* :func:`check_feasibility` tests the invariants of omtepf.md §6.2 item 5.

Conventions: energies are sums of per-step powers in p.u.·step (no Δt factor, omtepf.md §3.8); a firing
of duration ``d`` started at ``k`` occupies the EV during steps ``k .. k+d-1`` and draws its current (and
changes the SoC) in its start step ``k`` (omtepf.md §3.3–3.4).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tenflow.errors import TenflowError
from tenflow.problems.omtepf_solution import OmtepfSolution

#: kinds of EV transitions (omtepf_solution.py)
DRIVE_KINDS: frozenset[str] = frozenset({"road", "inductive", "wire"})
ELECTRIFIED_KINDS: frozenset[str] = frozenset({"inductive", "wire"})
PLUG_KINDS: frozenset[str] = frozenset({"home", "com", "v2g"})
CHARGER_KINDS: frozenset[str] = PLUG_KINDS
ALL_KINDS: frozenset[str] = frozenset({"park"}) | DRIVE_KINDS | PLUG_KINDS
_CHARGER_TYPE = {"home": "home", "com": "commercial", "v2g": "v2g"}

Array = np.ndarray


class SolutionError(TenflowError):
    """A solution refers to entities the case does not have, or lacks required data."""


# ============================================================================================ helpers


def _get(case: Any, section: str, key: str, default: Any) -> Any:
    """Value ``key`` of a case section (``meta``/``options``/``costs``) given as a dict or an object."""
    sec = getattr(case, section, None)
    if sec is None:
        return default
    if isinstance(sec, Mapping):
        v = sec.get(key, default)
    else:
        v = getattr(sec, key, default)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return default
    return v


def _table(case: Any, name: str) -> pd.DataFrame:
    df = getattr(case, name, None)
    if df is None:
        return pd.DataFrame()
    return df


def _str(s: pd.Series) -> pd.Series:
    """Ids as strings (``1`` and ``"1"`` compare equal; ``1.0`` read back from a float column too)."""

    def conv(x: Any) -> Any:
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return None
        if isinstance(x, float | np.floating) and float(x).is_integer():
            return str(int(x))
        return str(x)

    return s.map(conv)


def _fill(v: Any, default: float) -> float:
    if v is None:
        return default
    try:
        f = float(v)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(f) else f


def clock(case: Any, k: Array | Sequence[int]) -> list[str]:
    """Clock time ``HH:MM`` of the start of each step ``k`` (omtepf.md §1.1)."""
    start = str(_get(case, "meta", "start_time", "06:00"))
    dt = int(_get(case, "meta", "step_minutes", 15))
    h, m = (int(x) for x in start.split(":"))
    base = 60 * h + m
    return [f"{((base + dt * int(kk)) // 60) % 24:02d}:{(base + dt * int(kk)) % 60:02d}" for kk in k]


# ============================================================================================ grid data


@dataclass
class _Grid:
    """Electrical data of a case as arrays (buses, lines, generators, PV, loads), omtepf.md §2.3, §3.7."""

    buses: list[str]
    bus_pos: dict[str, int]
    line_ids: list[str]
    lf: Array
    lt: Array
    ys: Array  # series admittance (complex)
    bsh: Array  # total shunt susceptance
    tap: Array
    one_way: Array
    gen_ids: list[str]
    gbus: Array
    ga: Array
    gb: Array
    gc: Array
    gir: tuple[Array, Array]
    gii: tuple[Array, Array]
    pv_ids: list[str]
    pvbus: Array
    Is: Array  # (K, n_pv) complex injection
    pv_price: Array
    load_ids: list[str]
    dbus: Array
    G: Array  # (K, n_load)
    B: Array
    rev: Array  # (5, n_load): alpha_p, beta_p, alpha_q, beta_q, gamma
    v_min: float
    v_max: float


def _profile(case: Any, name: str, K: int, who: str) -> Array:
    prof = _table(case, "profiles")
    if name not in prof.columns:
        raise SolutionError(f"profiles.csv: profile '{name}' used by {who} is missing")
    if "k" in prof.columns:
        s = prof.set_index("k")[name].reindex(range(K))
    else:
        s = prof[name].iloc[:K].reset_index(drop=True)
    if s.isna().any() or len(s) < K:
        raise SolutionError(f"profiles.csv: profile '{name}' does not cover steps 0..{K - 1}")
    return s.to_numpy(dtype=float)


def _grid(case: Any, K: int) -> _Grid:
    buf = _table(case, "buffers")
    if len(buf) and "is_bus" in buf.columns:
        buses = list(_str(buf.loc[buf["is_bus"].astype(bool), "id"]))
    else:
        buses = list(_str(buf["id"])) if len(buf) else []
    pos = {b: i for i, b in enumerate(buses)}

    def busidx(s: pd.Series, table: str) -> Array:
        ids = _str(s)
        bad = [b for b in ids if b not in pos]
        if bad:
            raise SolutionError(f"{table}.csv: bus {bad[0]!r} is not a bus of the case")
        return np.array([pos[b] for b in ids], dtype=int)

    lines = _table(case, "lines")
    one_way_default = bool(_get(case, "options", "one_way_lines", True))
    if len(lines):
        lf = busidx(lines["from"], "lines")
        lt = busidx(lines["to"], "lines")
        ys = lines["g"].to_numpy(float) + 1j * lines["b"].to_numpy(float)
        bsh = lines["b_shunt"].fillna(0.0).to_numpy(float) if "b_shunt" in lines else np.zeros(len(lines))
        tap = lines["tap"].fillna(1.0).to_numpy(float) if "tap" in lines else np.ones(len(lines))
        if "one_way" in lines:
            ow = np.array([one_way_default if (x is None or (isinstance(x, float) and math.isnan(x)))
                           else bool(x) for x in lines["one_way"]], dtype=bool)
        else:
            ow = np.full(len(lines), one_way_default)
        line_ids = list(_str(lines["id"]))
    else:
        lf = lt = np.zeros(0, int)
        ys = np.zeros(0, complex)
        bsh = tap = np.zeros(0)
        ow = np.zeros(0, bool)
        line_ids = []

    gens = _table(case, "generators")
    ng = len(gens)

    def col(df: pd.DataFrame, name: str, default: float) -> Array:
        if name in df.columns:
            return df[name].astype(float).fillna(default).to_numpy()
        return np.full(len(df), default)

    gbus = busidx(gens["bus"], "generators") if ng else np.zeros(0, int)

    pvs = _table(case, "variable_generators")
    lam = float(_get(case, "costs", "lambda_S", 0.0))
    Is = np.zeros((K, len(pvs)), complex)
    for j, row in enumerate(pvs.itertuples(index=False)):
        sigma = _profile(case, str(row.profile), K, f"variable generator {row.id}")
        pf = _fill(getattr(row, "pf", 0.9), 0.9)
        Is[:, j] = float(row.i_max) * sigma * (pf - 1j * math.sqrt(max(0.0, 1 - pf * pf)))
    pvbus = busidx(pvs["bus"], "variable_generators") if len(pvs) else np.zeros(0, int)

    loads = _table(case, "loads")
    G = np.zeros((K, len(loads)))
    Bm = np.zeros((K, len(loads)))
    for j, row in enumerate(loads.itertuples(index=False)):
        G[:, j] = _profile(case, str(row.g_profile), K, f"load {row.id}")
        pf = _fill(getattr(row, "pf", 0.9), 0.9)
        Bm[:, j] = -G[:, j] * math.tan(math.acos(min(1.0, pf)))
    dbus = busidx(loads["bus"], "loads") if len(loads) else np.zeros(0, int)
    rev = np.vstack([col(loads, c, 0.0) for c in ("alpha_p", "beta_p", "alpha_q", "beta_q", "gamma")]) \
        if len(loads) else np.zeros((5, 0))

    return _Grid(
        buses=buses, bus_pos=pos, line_ids=line_ids, lf=lf, lt=lt, ys=ys, bsh=bsh, tap=tap, one_way=ow,
        gen_ids=list(_str(gens["id"])) if ng else [], gbus=gbus,
        ga=col(gens, "cost_a", 0.0), gb=col(gens, "cost_b", 0.0), gc=col(gens, "cost_c", 0.0),
        gir=(col(gens, "ir_min", -np.inf), col(gens, "ir_max", np.inf)),
        gii=(col(gens, "ii_min", -np.inf), col(gens, "ii_max", np.inf)),
        pv_ids=list(_str(pvs["id"])) if len(pvs) else [], pvbus=pvbus, Is=Is,
        pv_price=col(pvs, "price_report", lam),
        load_ids=list(_str(loads["id"])) if len(loads) else [], dbus=dbus, G=G, B=Bm, rev=rev,
        v_min=float(_get(case, "options", "v_min", 0.9)), v_max=float(_get(case, "options", "v_max", 1.1)),
    )


def line_currents(grid: _Grid, V: Array) -> tuple[Array, Array]:
    """Currents injected into every line at its from and to end, recomputed from voltages.

    Pi model with off-nominal tap ``tau`` at the from end (MATPOWER branch model; with no shunt and
    ``tau = 1`` this is omtepf.md eqs. 50–51: ``I_f = y (V_f - V_t) = -I_t``).

    Parameters
    ----------
    V : (K, n_bus) complex voltages.

    Returns
    -------
    I_f, I_t : (K, n_line) complex.
    """
    Vf = V[:, grid.lf]
    Vt = V[:, grid.lt]
    ysh = 0.5j * grid.bsh
    If = (grid.ys + ysh) / grid.tap**2 * Vf - grid.ys / grid.tap * Vt
    It = -grid.ys / grid.tap * Vf + (grid.ys + ysh) * Vt
    return If, It


# ============================================================================================ firings


def _firing_table(case: Any, sol: OmtepfSolution) -> pd.DataFrame:
    """The solution's firings enriched with case-derived data.

    Adds ``dur`` (steps), ``net`` (net SoC change), ``charge`` (gross charge units, > 0), ``discharge``
    (units discharged by v2g), ``revenue`` (R_C contribution; v2g: ``(price - c_C) * units``), ``cost_t``
    (transport cost), ``cbus`` (bus of the drawn current or None), ``cur`` (complex current drawn,
    injection negative), ``cap_key`` (resource for capacity checks).
    """
    f = sol.firings.copy()
    if len(f) == 0:
        for c in ("dur", "net", "charge", "discharge", "revenue", "cost_t"):
            f[c] = pd.Series(dtype=float)
        f["cbus"] = pd.Series(dtype=object)
        f["cur"] = pd.Series(dtype=complex)
        return f
    for c in ("ev", "component", "origin", "dest", "bus"):
        f[c] = _str(f[c])
    f["k"] = f["k"].astype(int)
    f["kind"] = f["kind"].astype(str)
    bad = sorted(set(f["kind"]) - ALL_KINDS)
    if bad:
        raise SolutionError(f"solution firings: unknown transition kind(s) {bad}")
    n = len(f)
    dur = np.ones(n, dtype=int)
    net = np.zeros(n)
    charge = np.zeros(n)
    discharge = np.zeros(n)
    revenue = np.zeros(n)
    cost_t = np.zeros(n)
    cur = np.zeros(n, complex)
    cbus: Array = np.full(n, None, dtype=object)
    kind = f["kind"].to_numpy()
    comp = f["component"].to_numpy()
    c_T = float(_get(case, "costs", "c_T", 0.0))
    c_C = float(_get(case, "costs", "c_C", 0.0))
    semantics_b = int(_get(case, "options", "wireless_net_soc", 0)) != 0

    # --- roads (plain and electrified traversals)
    roads = _table(case, "roads")
    m = np.isin(kind, list(DRIVE_KINDS))
    if m.any():
        r = roads.assign(id=_str(roads["id"])).set_index("id")
        missing = sorted(set(comp[m]) - set(r.index))
        if missing:
            raise SolutionError(f"solution firings: road(s) {missing[:5]} not in roads.csv")
        rr = r.loc[comp[m]]
        dur[m] = rr["travel_steps"].fillna(1).astype(int).to_numpy() if "travel_steps" in rr else 1
        dep = rr["depletion"].astype(float).fillna(2.0).to_numpy()
        cost_t[m] = rr["cost"].astype(float).fillna(c_T).to_numpy() if "cost" in rr else c_T
        rate = rr["charge_rate"].astype(float).fillna(0.0).to_numpy() if "charge_rate" in rr else 0.0
        el = np.isin(kind[m], list(ELECTRIFIED_KINDS))
        crate = np.where(el, rate, 0.0)
        net[m] = np.where(el, crate if semantics_b else crate - dep, -dep)
        charge[m] = crate
        revenue[m] = c_C * crate
        ire = rr["current_re"].astype(float).fillna(0.0).to_numpy()
        iim = rr["current_im"].astype(float).fillna(0.0).to_numpy()
        cur[m] = np.where(el, ire + 1j * iim, 0.0)
        where = _str(rr["charge_bus"]).to_numpy(dtype=object) if "charge_bus" in rr \
            else np.full(m.sum(), "origin", dtype=object)
        org = f["origin"].to_numpy(dtype=object)[m]
        dst = f["dest"].to_numpy(dtype=object)[m]
        bus = np.where(where == "origin", org, np.where(where == "destination", dst, where))
        cbus[m] = np.where(el, bus, np.array(None, dtype=object))
    # --- chargers (home, commercial, v2g)
    chg = _table(case, "chargers")
    m = np.isin(kind, list(CHARGER_KINDS))
    if m.any():
        c = chg.assign(id=_str(chg["id"])).set_index("id")
        missing = sorted(set(comp[m]) - set(c.index))
        if missing:
            raise SolutionError(f"solution firings: charger(s) {missing[:5]} not in chargers.csv")
        cc = c.loc[comp[m]]
        rate = cc["rate"].astype(float).to_numpy()
        price = cc["revenue_per_unit"].astype(float).fillna(c_C).to_numpy() \
            if "revenue_per_unit" in cc else np.full(m.sum(), c_C)
        v2g = kind[m] == "v2g"
        net[m] = np.where(v2g, -rate, rate)
        charge[m] = np.where(v2g, 0.0, rate)
        discharge[m] = np.where(v2g, rate, 0.0)
        # v2g (same convention as formulations.charging): each discharged unit earns the v2g price and the
        # recharge of that unit earns no c_C, so R_C = c_C (charge - discharge) + price * discharge
        revenue[m] = np.where(v2g, (price - c_C) * rate, price * rate)
        i0 = cc["current_re"].astype(float).to_numpy() + 1j * cc["current_im"].astype(float).to_numpy()
        cur[m] = np.where(v2g, -i0, i0)
        cbus[m] = _str(cc["buffer"]).to_numpy(dtype=object)
    f["dur"] = dur
    f["net"] = net
    f["charge"] = charge
    f["discharge"] = discharge
    f["revenue"] = revenue
    f["cost_t"] = cost_t
    f["cur"] = cur
    f["cbus"] = cbus
    return f


def _occupancy(f: pd.DataFrame, K: int) -> pd.DataFrame:
    """One row per (firing, occupied step): columns ``ev, k, kind, component, origin, dest, fid``."""
    if len(f) == 0:
        return pd.DataFrame({"ev": [], "k": [], "kind": [], "component": [], "fid": []})
    d = f["dur"].to_numpy(int)
    fid = np.repeat(np.arange(len(f)), d)
    off = np.arange(len(fid)) - np.repeat(np.cumsum(d) - d, d)
    occ = f.iloc[fid][["ev", "k", "kind", "component", "origin", "dest"]].reset_index(drop=True)
    occ["k"] = occ["k"].to_numpy() + off
    occ["fid"] = fid
    occ["start"] = off == 0
    return occ[occ["k"] < K].reset_index(drop=True)


# ============================================================================================ evaluation


@dataclass
class Violation:
    """One violated feasibility invariant (omtepf.md §6.2 item 5)."""

    check: str
    k: int | None
    entity: str
    value: float
    limit: float
    detail: str = ""

    def __str__(self) -> str:
        at = f" at k={self.k}" if self.k is not None else ""
        return f"{self.check}{at} [{self.entity}]: value {self.value:.6g} vs limit {self.limit:.6g} {self.detail}".rstrip()


@dataclass
class Evaluation:
    """Everything reported for one solution (omtepf.md §3.8, §6.1–6.3). Money in cost units, energy in p.u.·step.

    Sign conventions: costs positive, revenues positive numbers (``R_C``, ``R_D``) entering the total with a
    minus sign; ``total = C_T + C_Q + C_G + C_S - R_C - R_D`` (Table VIII, solar at the ex-post report price);
    ``objective = C_T + C_Q + C_G + C_S_const - R_C - R_D`` (eq. 67, solar as the optimisation constant).
    """

    mode: str
    case_name: str
    K: int
    n_ev: int
    # counts
    traversals: int
    electrified_traversals: int
    plug_steps: dict[str, int]
    parked_steps: int
    queued: int
    charge_units: float
    discharge_units: float
    # money
    C_T: float
    C_Q: float
    C_G: float
    C_G_power: float
    C_S: float
    C_S_const: float
    R_C: float
    R_D: float
    # energy
    E_G: float
    E_S: float
    E_C: float
    E_D: float
    losses: float
    losses_lines: float
    charging_current: float
    # metrics (fractions)
    qos: float
    utilisation: float
    availability: float
    effective_utilisation: float
    # voltage extremes
    v_min: float
    v_max: float
    angle_max_deg: float
    # tables
    timeseries: pd.DataFrame
    itinerary: pd.DataFrame
    violations: list[Violation] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- derived
    @property
    def total(self) -> float:
        """Table VIII total ``C_T + C_Q + C_G + C_S - R_C - R_D`` (ex-post solar report)."""
        return self.C_T + self.C_Q + self.C_G + self.C_S - self.R_C - self.R_D

    @property
    def objective(self) -> float:
        """Eq. 67 evaluated exactly: ``C_T + C_Q + C_G + C_S_const - R_C - R_D``."""
        return self.C_T + self.C_Q + self.C_G + self.C_S_const - self.R_C - self.R_D

    @property
    def has_grid(self) -> bool:
        return not math.isnan(self.E_G)

    def table_viii(self) -> pd.Series:
        """Objective breakdown (paper Table VIII): revenues as negative numbers; last row the total."""
        return pd.Series(
            {
                "Transportation cost": self.C_T,
                "Queueing cost": self.C_Q,
                "Dispatchable generator cost": self.C_G,
                "Solar generation cost (ex-post report)": self.C_S,
                "Charging revenue": -self.R_C,
                "Exogenous demand revenue": -self.R_D,
                "Total": self.total,
            },
            name=self.mode,
        )

    def table_ix(self) -> pd.DataFrame:
        """Cost, energy and unit cost = cost / energy (paper Table IX), revenues negative."""
        rows = [
            ("Dispatchable generator", self.C_G, self.E_G),
            ("Solar generation", self.C_S, self.E_S),
            ("EV charging", -self.R_C, self.E_C),
            ("Exogenous demand", -self.R_D, self.E_D),
        ]
        df = pd.DataFrame(rows, columns=["item", "cost", "energy"]).set_index("item")
        with np.errstate(divide="ignore", invalid="ignore"):
            df["unit_cost"] = np.where(df["energy"] != 0, df["cost"].abs() / df["energy"].abs(), np.nan)
        return df

    def table_x(self) -> pd.Series:
        """Quality of service, fleet utilisation, availability, effective utilisation in % (Table X, §6.3)."""
        return pd.Series(
            {
                "Quality of service": 100 * self.qos,
                "Vehicle fleet utilization": 100 * self.utilisation,
                "Vehicle fleet availability": 100 * self.availability,
                "Effective vehicle fleet utilization": 100 * self.effective_utilisation,
            },
            name=self.mode,
        )

    def summary(self) -> dict[str, Any]:
        """Scalars as a JSON-ready dict."""
        out = {k: v for k, v in self.__dict__.items()
               if k not in ("timeseries", "itinerary", "violations", "info")}
        out["total"] = self.total
        out["objective"] = self.objective
        out["n_violations"] = len(self.violations)
        return out


def evaluate(case: Any, solution: OmtepfSolution, *, check: bool = True) -> Evaluation:
    """Evaluate one OMTEPF solution exactly (omtepf.md §3.8, §6).

    Parameters
    ----------
    case
        The case the solution belongs to (``tenflow.cases.load`` / ``tenflow.load_case``).
    solution
        Decisions of either operating mode.
    check
        Also run :func:`check_feasibility` and store the violations in ``Evaluation.violations``.

    Returns
    -------
    Evaluation
        Scalars of Tables VIII–X, time series, per-EV per-step itinerary and SoC.
    """
    K = int(solution.K)
    evs = _table(case, "evs")
    ev_ids = list(_str(evs["id"]))
    n_ev = len(ev_ids)
    f = _firing_table(case, solution)
    occ = _occupancy(f, K)
    idle = solution.idle.copy()
    idle["ev"] = _str(idle["ev"]) if len(idle) else idle.get("ev", pd.Series(dtype=object))
    idle["k"] = idle["k"].astype(int) if len(idle) else idle.get("k", pd.Series(dtype=int))

    # ------------------------------------------------------------- transport counts and metrics (§6.3)
    kinds = f["kind"].to_numpy() if len(f) else np.array([], dtype=object)
    traversals = int(np.isin(kinds, list(DRIVE_KINDS)).sum())
    electrified = int(np.isin(kinds, list(ELECTRIFIED_KINDS)).sum())
    okind = occ["kind"].to_numpy() if len(occ) else np.array([], dtype=object)
    D = int(np.isin(okind, list(DRIVE_KINDS)).sum())
    P = int((okind == "park").sum())
    C = int(np.isin(okind, list(PLUG_KINDS)).sum())
    W = len(idle)
    T = max(1, n_ev * K)
    plug_steps = {kd: int((okind == kd).sum()) for kd in ("home", "com", "v2g")}

    C_T = float(f["cost_t"].sum()) if len(f) else 0.0
    C_Q = float(_get(case, "costs", "c_Q", 0.0)) * W
    R_C = float(f["revenue"].sum()) if len(f) else 0.0

    # ------------------------------------------------------------- time series: transport (Fig. 9)
    ks = np.arange(K)

    def per_k(mask: Array, frame: pd.DataFrame) -> Array:
        return np.bincount(frame["k"].to_numpy(int)[mask], minlength=K)[:K] if len(frame) else np.zeros(K, int)

    ts = pd.DataFrame({"k": ks, "clock": clock(case, ks)})
    ts["road"] = per_k(np.isin(okind, list(DRIVE_KINDS)), occ)
    ts["parking"] = per_k(okind == "park", occ)
    ts["charging"] = per_k(np.isin(okind, list(PLUG_KINDS | ELECTRIFIED_KINDS)), occ)
    ts["plugged"] = per_k(np.isin(okind, list(PLUG_KINDS)), occ)
    ts["wireless"] = per_k(np.isin(okind, list(ELECTRIFIED_KINDS)), occ)
    ts["queue"] = np.bincount(idle["k"].to_numpy(int), minlength=K)[:K] if W else np.zeros(K, int)

    # ------------------------------------------------------------- electrical part
    grid = _grid(case, K)
    nan = float("nan")
    E: dict[str, Any] = dict(C_G=nan, C_G_power=nan, C_S=nan, C_S_const=0.0, R_D=nan, E_G=nan, E_S=nan, E_C=nan, E_D=nan,
             losses=nan, losses_lines=nan, v_min=nan, v_max=nan, angle_max_deg=nan)
    chg_mask = f["cbus"].notna().to_numpy() if len(f) else np.zeros(0, bool)
    charging_current = float(np.abs(f["cur"].to_numpy()[chg_mask]).sum()) if len(f) else 0.0
    V = _voltage_matrix(solution, grid, K)
    if V is not None:
        Ig = _gen_matrix(solution, grid, K)
        Sg = V[:, grid.gbus] * np.conj(Ig)
        Pg = Sg.real
        i2 = np.abs(Ig) ** 2
        Cg = grid.ga * i2**2 + grid.gb * i2 + grid.gc
        s2 = np.abs(Sg) ** 2  # power form: same polynomial in |S|^2 = |V|^2 |I|^2 (equal at |V| = 1, §3.8)
        Cg_pow = grid.ga * s2**2 + grid.gb * s2 + grid.gc
        Ps = (V[:, grid.pvbus] * np.conj(grid.Is)).real
        v2 = np.abs(V[:, grid.dbus]) ** 2
        Pd = grid.G * v2
        Qd = -grid.B * v2
        a_p, b_p, a_q, b_q, gam = grid.rev
        Rd = a_p * Pd**2 + b_p * Pd + a_q * Qd**2 + b_q * Qd + gam
        # charging power per step
        Pc: Array = np.zeros(K)
        if chg_mask.any():
            fc = f[chg_mask]
            kk = fc["k"].to_numpy(int)
            bi = np.array([grid.bus_pos[b] for b in fc["cbus"]], dtype=int)
            pc = (V[kk, bi] * np.conj(fc["cur"].to_numpy())).real
            Pc = np.bincount(kk, weights=pc, minlength=K)[:K]
        If, It = line_currents(grid, V)
        line_loss = (V[:, grid.lf] * np.conj(If) + V[:, grid.lt] * np.conj(It)).real
        vabs = np.abs(V)
        ang = np.degrees(np.angle(V))
        E.update(
            C_G=float(Cg.sum()), C_G_power=float(Cg_pow.sum()),
            C_S=float((grid.pv_price * Ps).sum()), R_D=float(Rd.sum()),
            E_G=float(Pg.sum()), E_S=float(Ps.sum()), E_C=float(Pc.sum()), E_D=float(Pd.sum()),
            losses_lines=float(line_loss.sum()),
            v_min=float(vabs.min()), v_max=float(vabs.max()), angle_max_deg=float(np.abs(ang).max()),
        )
        E["losses"] = E["E_G"] + E["E_S"] - E["E_C"] - E["E_D"]
        ts["P_gen"] = Pg.sum(axis=1)
        ts["P_pv"] = Ps.sum(axis=1)
        ts["P_charging"] = Pc
        ts["P_demand"] = Pd.sum(axis=1)
        ts["P_loss"] = line_loss.sum(axis=1)
        ts["v_min"] = vabs.min(axis=1)
        ts["v_max"] = vabs.max(axis=1)
        ts["v_min_bus"] = [grid.buses[i] for i in vabs.argmin(axis=1)]
        ts["gen_cost"] = Cg.sum(axis=1)
        ts["demand_revenue"] = Rd.sum(axis=1)

    itinerary = _itinerary(f, occ, idle, solution, ev_ids, K)

    ev = Evaluation(
        mode=solution.mode, case_name=solution.case_name, K=K, n_ev=n_ev,
        traversals=traversals, electrified_traversals=electrified, plug_steps=plug_steps, parked_steps=P,
        queued=W, charge_units=float(f["charge"].sum()) if len(f) else 0.0,
        discharge_units=float(f["discharge"].sum()) if len(f) else 0.0,
        C_T=C_T, C_Q=C_Q, R_C=R_C, charging_current=charging_current,
        qos=1 - W / T, utilisation=D / T, availability=1 - (C + W) / T,
        effective_utilisation=(D / (D + P)) if D + P else float("nan"),
        timeseries=ts, itinerary=itinerary, info=dict(solution.info), **E,
    )
    if check:
        ev.violations = check_feasibility(case, solution)
    return ev


def _voltage_matrix(sol: OmtepfSolution, grid: _Grid, K: int) -> Array | None:
    vt = sol.voltages
    if vt is None or len(vt) == 0:
        return None
    bus = _str(vt["bus"])
    unknown = sorted(set(bus) - set(grid.bus_pos))
    if unknown:
        raise SolutionError(f"solution voltages: bus(es) {unknown[:5]} are not buses of the case")
    V = np.full((K, len(grid.buses)), np.nan + 0j)
    kk = vt["k"].to_numpy(int)
    ok = (kk >= 0) & (kk < K)
    bi = np.array([grid.bus_pos[b] for b in bus], dtype=int)
    V[kk[ok], bi[ok]] = vt["vr"].to_numpy(float)[ok] + 1j * vt["vi"].to_numpy(float)[ok]
    if np.isnan(V).any():
        r, c = np.argwhere(np.isnan(V))[0]
        raise SolutionError(f"solution voltages: no voltage for bus {grid.buses[c]!r} at k={r} "
                            f"({int(np.isnan(V).sum())} (bus, k) pairs missing)")
    return V


def _gen_matrix(sol: OmtepfSolution, grid: _Grid, K: int) -> Array:
    gt = sol.gen_currents
    Ig = np.zeros((K, len(grid.gen_ids)), complex)
    if len(grid.gen_ids) == 0:
        return Ig
    gpos = {g: i for i, g in enumerate(grid.gen_ids)}
    gid = _str(gt["gen"]) if len(gt) else pd.Series(dtype=object)
    unknown = sorted(set(gid) - set(gpos))
    if unknown:
        raise SolutionError(f"solution gen_currents: generator(s) {unknown[:5]} not in generators.csv")
    seen = np.zeros((K, len(grid.gen_ids)), bool)
    if len(gt):
        kk = gt["k"].to_numpy(int)
        gi = np.array([gpos[g] for g in gid], dtype=int)
        Ig[kk, gi] = gt["ir"].to_numpy(float) + 1j * gt["ii"].to_numpy(float)
        seen[kk, gi] = True
    if not seen.all():
        r, c = np.argwhere(~seen)[0]
        raise SolutionError(f"solution gen_currents: no current for generator {grid.gen_ids[c]!r} at k={r}")
    return Ig


def _itinerary(f: pd.DataFrame, occ: pd.DataFrame, idle: pd.DataFrame, sol: OmtepfSolution,
               ev_ids: list[str], K: int) -> pd.DataFrame:
    """Per-EV per-step state table: ``ev, k, state, component, origin, dest, soc`` (soc at the start of k)."""
    grid_idx = pd.MultiIndex.from_product([ev_ids, range(K)], names=["ev", "k"])
    out = pd.DataFrame(index=grid_idx).reset_index()
    parts = []
    if len(occ):
        o = occ.copy()
        o["state"] = np.where(o["start"], o["kind"], o["kind"] + "(cont)")
        parts.append(o[["ev", "k", "state", "component", "origin", "dest"]])
    if len(idle):
        i = idle.copy()
        i["state"] = "queue"
        i["component"] = None
        i["origin"] = _str(i["buffer"])
        i["dest"] = i["origin"]
        parts.append(i[["ev", "k", "state", "component", "origin", "dest"]])
    if parts:
        st = pd.concat(parts, ignore_index=True)
        st = st.drop_duplicates(["ev", "k"], keep="first")
        out = out.merge(st, on=["ev", "k"], how="left")
    else:
        out[["state", "component", "origin", "dest"]] = None
    soc = sol.soc
    if len(soc):
        s = soc.assign(ev=_str(soc["ev"]), k=soc["k"].astype(int))[["ev", "k", "soc"]]
        out = out.merge(s, on=["ev", "k"], how="left")
    else:
        out["soc"] = np.nan
    return out


# ============================================================================================ feasibility


def check_feasibility(
    case: Any,
    solution: OmtepfSolution,
    *,
    kcl_tol: float = 1e-8,
    v_tol: float = 1e-6,
    i_tol: float = 1e-7,
    soc_tol: float = 1e-6,
) -> list[Violation]:
    """Feasibility invariants of omtepf.md §6.2 item 5, recomputed from the case data.

    Checks (each step ``k``): KCL residual ``< kcl_tol`` at every bus with line/load currents recomputed
    from ``V`` (eqs. 47, 49–54); ``|V| <= v_max + v_tol`` and ``|V| >= v_min - v_tol``; ``I^r >= -i_tol`` on
    one-way lines (from-end current) and generators, generator current boxes; ``0 <= SoC <= battery``,
    ``SoC[0] = soc_init``, ``SoC[K] >= soc_final``; SoC dynamics ``SoC[k+1] - SoC[k]`` = sum of net rates of
    the firings started at ``k``; exactly one state per EV and step (firing in progress or queued) with
    location continuity (each transition starts where the EV is; the first where it lives); plugs per charger;
    lot spaces (parking + charging at the lot's buffer); road loads per arc ≤ capacity; the firing's own
    ``rate``/``bus``/current columns agree with the case data.

    Returns
    -------
    list of Violation (empty = feasible).
    """
    K = int(solution.K)
    out: list[Violation] = []
    evs = _table(case, "evs").copy()
    evs["id"] = _str(evs["id"])
    ev_ids = list(evs["id"])
    f = _firing_table(case, solution)
    occ = _occupancy(f, K)
    idle = solution.idle.copy()
    if len(idle):
        idle["ev"] = _str(idle["ev"])
        idle["k"] = idle["k"].astype(int)
        idle["buffer"] = _str(idle["buffer"])

    # ---- firings consistent with case data
    if len(f):
        bad_k = (f["k"] < 0) | (f["k"] >= K)
        for r in f[bad_k].itertuples():
            out.append(Violation("firing_step", int(r.k), f"ev {r.ev}", r.k, K - 1, "firing outside 0..K-1"))
        rate = pd.to_numeric(f["rate"], errors="coerce").to_numpy(float)
        dr = np.abs(rate - f["net"].to_numpy())
        for i in np.flatnonzero(~(dr <= 1e-9)):
            r = f.iloc[i]
            out.append(Violation("firing_rate", int(r.k), f"ev {r.ev} {r.kind} {r.component}", rate[i],
                                 float(r.net), "reported net SoC rate differs from case data"))
        has = f["cbus"].notna().to_numpy()
        rep_bus = f["bus"].to_numpy()
        rep_cur = pd.to_numeric(f["current_re"], errors="coerce").fillna(0).to_numpy() \
            + 1j * pd.to_numeric(f["current_im"], errors="coerce").fillna(0).to_numpy()
        dc = np.abs(rep_cur - f["cur"].to_numpy())
        for i in np.flatnonzero(dc > 1e-9):
            r = f.iloc[i]
            out.append(Violation("firing_current", int(r.k), f"ev {r.ev} {r.kind} {r.component}", float(dc[i]), 0.0,
                                 "reported current differs from case data"))
        for i in np.flatnonzero(has):
            if rep_bus[i] != f["cbus"].iat[i]:
                r = f.iloc[i]
                out.append(Violation("firing_bus", int(r.k), f"ev {r.ev} {r.kind} {r.component}", 0, 0,
                                     f"reported bus {rep_bus[i]!r}, case gives {f['cbus'].iat[i]!r}"))
        unknown_ev = sorted(set(f["ev"]) - set(ev_ids))
        if unknown_ev:
            out.append(Violation("unknown_ev", None, ",".join(unknown_ev[:5]), len(unknown_ev), 0,
                                 "firings of EVs not in evs.csv"))

    # ---- one state per EV per step
    cnt = pd.concat([occ[["ev", "k"]], idle[["ev", "k"]] if len(idle) else None], ignore_index=True) \
        if len(occ) or len(idle) else pd.DataFrame({"ev": [], "k": []})
    full = pd.MultiIndex.from_product([ev_ids, range(K)], names=["ev", "k"])
    c = cnt.groupby(["ev", "k"]).size().reindex(full, fill_value=0) if len(cnt) else pd.Series(0, index=full)
    for (e, k), v in c[c != 1].items():
        out.append(Violation("one_state", int(k), f"ev {e}", float(v), 1.0,
                             "EV must be in exactly one transition or queued"))

    # ---- location continuity
    out.extend(_continuity(f, idle, evs, K))

    # ---- capacities
    if len(occ):
        okind = occ["kind"].to_numpy()
        # roads per arc per step
        roads = _table(case, "roads")
        drv = occ[np.isin(okind, list(DRIVE_KINDS))]
        if len(drv):
            cap = roads.assign(id=_str(roads["id"])).set_index("id")["capacity"]
            load = drv.groupby(["component", "origin", "dest", "k"]).size().rename("n").reset_index()
            load["cap"] = cap.reindex(load["component"]).to_numpy(float)
            for r in load[load["n"] > load["cap"]].itertuples():
                out.append(Violation("road_capacity", int(r.k), f"road {r.component} {r.origin}->{r.dest}",
                                     float(r.n), float(r.cap)))
        # plugs per charger
        chg = _table(case, "chargers")
        pl = occ[np.isin(okind, list(PLUG_KINDS))]
        if len(pl) and len(chg):
            plugs = chg.assign(id=_str(chg["id"])).set_index("id")["plugs"].astype(float)
            use = pl.groupby(["component", "k"]).size().rename("n").reset_index()
            use["cap"] = plugs.reindex(use["component"]).to_numpy()
            for r in use[(use["cap"] > 0) & (use["n"] > use["cap"])].itertuples():
                out.append(Violation("plug_capacity", int(r.k), f"charger {r.component}", float(r.n), float(r.cap)))
        # lot spaces: parking + charging at the lot's buffer
        park = _table(case, "parking")
        if len(park):
            pk = park.assign(id=_str(park["id"]), buffer=_str(park["buffer"]))
            lot_buf = pk.set_index("id")["buffer"]
            buf_cap = pk.groupby("buffer")["capacity"].sum().astype(float)
            o = occ[np.isin(okind, ["park"] + list(PLUG_KINDS))].copy()
            if len(o):
                cb = chg.assign(id=_str(chg["id"]), buffer=_str(chg["buffer"])).set_index("id")["buffer"] \
                    if len(chg) else pd.Series(dtype=object)
                o["buffer"] = np.where(o["kind"] == "park", lot_buf.reindex(o["component"]).to_numpy(),
                                       cb.reindex(o["component"]).to_numpy() if len(cb) else np.array(None))
                o = o[o["buffer"].isin(buf_cap.index)]
                use = o.groupby(["buffer", "k"]).size().rename("n").reset_index()
                use["cap"] = buf_cap.reindex(use["buffer"]).to_numpy()
                for r in use[use["n"] > use["cap"]].itertuples():
                    out.append(Violation("lot_capacity", int(r.k), f"buffer {r.buffer}", float(r.n), float(r.cap)))

    # ---- SoC
    out.extend(_soc_checks(f, solution, evs, K, soc_tol))

    # ---- electrical
    grid = _grid(case, K)
    V = _voltage_matrix(solution, grid, K)
    if V is not None:
        Ig = _gen_matrix(solution, grid, K)
        res = kcl_residual(grid, V, Ig, f, K)
        bad = np.argwhere(np.abs(res) >= kcl_tol)
        for k, n in bad:
            out.append(Violation("kcl", int(k), f"bus {grid.buses[n]}", float(abs(res[k, n])), kcl_tol))
        vabs = np.abs(V)
        for k, n in np.argwhere(vabs > grid.v_max + v_tol):
            out.append(Violation("v_max", int(k), f"bus {grid.buses[n]}", float(vabs[k, n]), grid.v_max))
        for k, n in np.argwhere(vabs < grid.v_min - v_tol):
            out.append(Violation("v_min", int(k), f"bus {grid.buses[n]}", float(vabs[k, n]), grid.v_min))
        If, _ = line_currents(grid, V)
        for k, j in np.argwhere((If.real < -i_tol) & grid.one_way[None, :]):
            out.append(Violation("line_one_way", int(k), f"line {grid.line_ids[j]}", float(If.real[k, j]), 0.0,
                                 "I^r < 0 on a one-way line"))
        lo_r = np.maximum(grid.gir[0], 0.0)
        for name, val, lo, hi in (("gen_ir", Ig.real, lo_r, grid.gir[1]), ("gen_ii", Ig.imag, *grid.gii)):
            for k, g in np.argwhere(val < lo - i_tol):
                out.append(Violation(name, int(k), f"generator {grid.gen_ids[g]}", float(val[k, g]), float(lo[g])))
            for k, g in np.argwhere(val > hi + i_tol):
                out.append(Violation(name, int(k), f"generator {grid.gen_ids[g]}", float(val[k, g]), float(hi[g])))
    return out


def kcl_residual(grid: _Grid, V: Array, Ig: Array, f: pd.DataFrame, K: int) -> Array:
    """KCL residual per step and bus (omtepf.md eq. 47): injections minus withdrawals, complex (K, n_bus).

    Injections: generators, PV. Withdrawals: currents into lines at both ends (recomputed from ``V``),
    admittance loads ``(G + jB) V``, charging currents of the firings started at ``k`` (v2g negative).
    """
    nb = len(grid.buses)
    inj = np.zeros((K, nb), complex)

    def add(cols: Array, vals: Array, sign: float) -> None:
        np.add.at(inj.T, cols, sign * vals.T)  # unbuffered: several devices may share a bus

    add(grid.gbus, Ig, 1.0)
    add(grid.pvbus, grid.Is, 1.0)
    If, It = line_currents(grid, V)
    add(grid.lf, If, -1.0)
    add(grid.lt, It, -1.0)
    Id = (grid.G + 1j * grid.B) * V[:, grid.dbus]
    add(grid.dbus, Id, -1.0)
    if len(f):
        fc = f[f["cbus"].notna() & (f["k"] >= 0) & (f["k"] < K)]
        if len(fc):
            kk = fc["k"].to_numpy(int)
            bi = np.array([grid.bus_pos[b] for b in fc["cbus"]], dtype=int)
            np.add.at(inj, (kk, bi), -fc["cur"].to_numpy())
    return inj


def _continuity(f: pd.DataFrame, idle: pd.DataFrame, evs: pd.DataFrame, K: int) -> list[Violation]:
    """Each EV's events (firings and queued steps) chain in time and space starting at its home."""
    out: list[Violation] = []
    parts = []
    if len(f):
        parts.append(pd.DataFrame({"ev": f["ev"], "k": f["k"], "dur": f["dur"], "o": f["origin"], "d": f["dest"],
                                   "what": f["kind"]}))
    if len(idle):
        parts.append(pd.DataFrame({"ev": idle["ev"], "k": idle["k"], "dur": 1, "o": idle["buffer"],
                                   "d": idle["buffer"], "what": "queue"}))
    if not parts:
        return out
    e = pd.concat(parts, ignore_index=True).sort_values(["ev", "k"], kind="stable").reset_index(drop=True)
    home = evs.set_index("id")["home"].map(str)
    prev_d = e.groupby("ev")["d"].shift(1)
    prev_end = e.groupby("ev")["k"].shift(1) + e.groupby("ev")["dur"].shift(1)
    first = prev_d.isna()
    exp_o = prev_d.where(~first, e["ev"].map(home))
    bad = e["o"] != exp_o
    for r in e[bad].itertuples():
        out.append(Violation("continuity", int(r.k), f"ev {r.ev}", 0, 0,
                             f"{r.what} starts at {r.o!r} but the EV is at {exp_o[r.Index]!r}"))
    gap = (~first) & (e["k"] != prev_end)
    for r in e[gap].itertuples():
        out.append(Violation("continuity", int(r.k), f"ev {r.ev}", float(r.k), float(prev_end[r.Index]),
                             "event does not start when the previous one ends"))
    return out


def _soc_checks(f: pd.DataFrame, sol: OmtepfSolution, evs: pd.DataFrame, K: int, tol: float) -> list[Violation]:
    out: list[Violation] = []
    ev_ids = list(evs["id"])
    soc = sol.soc
    if len(soc) == 0:
        out.append(Violation("soc_missing", None, "all", 0, 0, "solution has no SoC table"))
        return out
    s = soc.assign(ev=_str(soc["ev"]), k=soc["k"].astype(int))
    S = s.pivot_table(index="ev", columns="k", values="soc", aggfunc="first").reindex(index=ev_ids,
                                                                                     columns=range(K + 1))
    Sv = S.to_numpy(float)
    for i, k in np.argwhere(np.isnan(Sv)):
        out.append(Violation("soc_missing", int(k), f"ev {ev_ids[i]}", float("nan"), 0))
    ev_attr = evs.set_index("id")
    bat = ev_attr["battery"].astype(float).reindex(ev_ids).to_numpy() if "battery" in ev_attr else np.full(len(ev_ids), np.inf)
    for i, k in np.argwhere(Sv < -tol):
        out.append(Violation("soc_min", int(k), f"ev {ev_ids[i]}", float(Sv[i, k]), 0.0))
    for i, k in np.argwhere(Sv > bat[:, None] + tol):
        out.append(Violation("soc_max", int(k), f"ev {ev_ids[i]}", float(Sv[i, k]), float(bat[i])))
    if "soc_init" in ev_attr:
        s0 = ev_attr["soc_init"].astype(float).reindex(ev_ids).to_numpy()
        for i in np.flatnonzero(np.abs(Sv[:, 0] - s0) > tol):
            out.append(Violation("soc_init", 0, f"ev {ev_ids[i]}", float(Sv[i, 0]), float(s0[i])))
    if "soc_final" in ev_attr:
        sf = ev_attr["soc_final"].astype(float).reindex(ev_ids).to_numpy()
        for i in np.flatnonzero(Sv[:, K] < sf - tol):
            out.append(Violation("soc_final", K, f"ev {ev_ids[i]}", float(Sv[i, K]), float(sf[i])))
    # dynamics
    delta = np.zeros((len(ev_ids), K))
    if len(f):
        pos = {e: i for i, e in enumerate(ev_ids)}
        ff = f[f["ev"].isin(pos) & (f["k"] >= 0) & (f["k"] < K)]
        np.add.at(delta, (ff["ev"].map(pos).to_numpy(int), ff["k"].to_numpy(int)), ff["net"].to_numpy(float))
    diff = np.diff(Sv, axis=1) - delta
    for i, k in np.argwhere(np.abs(diff) > tol):
        out.append(Violation("soc_dynamics", int(k), f"ev {ev_ids[i]}", float(Sv[i, k + 1] - Sv[i, k]),
                             float(delta[i, k]), "SoC change differs from the firings' net rates"))
    return out


# ============================================================================================ comparisons


def improvement(base: Evaluation, other: Evaluation) -> float:
    """Percent improvement of ``other`` over ``base`` in the Table VIII total: ``(Z_b - Z_o) / |Z_b| * 100``.

    The paper's 3.61 % = (33.05 - 31.90) / 31.90 (both totals negative, omtepf.md §6.2).
    """
    return (base.total - other.total) / abs(base.total) * 100.0


def table_viii(evals: Sequence[Evaluation]) -> pd.DataFrame:
    """Table VIII side by side (one column per mode); the report adds the improvement row (:func:`improvement`)."""
    return pd.concat([e.table_viii() for e in evals], axis=1)


def table_ix(evals: Sequence[Evaluation]) -> pd.DataFrame:
    """Table IX side by side: columns ``<mode> cost``, ``<mode> energy``, ``<mode> unit cost``."""
    parts = []
    for e in evals:
        t = e.table_ix()
        t.columns = [f"{e.mode} {c.replace('_', ' ')}" for c in t.columns]
        parts.append(t)
    return pd.concat(parts, axis=1)


def table_x(evals: Sequence[Evaluation]) -> pd.DataFrame:
    """Table X side by side (percent)."""
    return pd.concat([e.table_x() for e in evals], axis=1)


def timeseries(evals: Sequence[Evaluation]) -> pd.DataFrame:
    """Time series of all evaluations stacked (tidy, with a ``mode`` column)."""
    return pd.concat([e.timeseries.assign(mode=e.mode) for e in evals], ignore_index=True)
