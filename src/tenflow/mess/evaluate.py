"""Independent plan evaluator (mess.md §9 checks 3–7, objective of §6.1).

Given a case and a :class:`~tenflow.mess.plan.Plan` (from the optimiser or a baseline), this module replays every
arc of every trip with the physics (:mod:`tenflow.mess.physics`), demand (:mod:`tenflow.mess.demand`), price and
degradation (:mod:`tenflow.mess.degradation`) modules and recomputes every cost column of the objective J of §6.1.
It deliberately shares no code with the optimiser (no cost tables, no DP): it is the cross-check of §6.2 step 7
and §9 check 7.

Cost semantics (§6.1, §4.1; the choices that the spec leaves implicit are stated here):

* travel arc u→v departing at step j, arriving at step j+n: ``km·(toll + maintenance)``; wear of the carried pack
  on the bucket trajectory q→q': calendar linear over the arc's grid duration ``n·Δ`` minus the idle-pack
  correction ``n·Δ·r(s_dep)``, cycle ``cycle(q/L, q'/L, C)`` with ``C = |E_leg|/(Q·τ_leg)`` (continuous leg energy
  and travel time, §4.3); prototype presets (``is_leg_model``): ``leg(q/L, q'/L, t_j, t_{j+n})`` only;
* wait arc: calendar at constant level minus idle correction;
* charge arc at step j: grid energy ``(q'−q)·δ/η`` bought at the price of the hour containing ``t_j`` plus the
  charger's ``fee_per_kwh`` and ``costs.charge_fee_per_kwh``; wear calendar linear minus idle, cycle (charge);
* swap arc: calendar of the delivered pack at constant level ``q_del`` over the service time minus idle;
* wages ``wage·(t_end − t_start)`` of the trip;
* site periods (initial pack from the horizon start, every installed pack from its swap completion to the
  completion of the next swap, the last pack to the horizon end): per grid step m the level is
  ``⌊(e − (D(t_m) − D(t_install)))/δ + ε⌋`` and the step pays ``calendar(ℓ_m/L, ℓ_{m+1}/L, Δ)`` +
  ``cycle(ℓ_m/L, ℓ_{m+1}/L, C_m)`` with ``C_m`` the site draw of the step over ``Q·Δ``;
* idle packs: ``N_trucks·H·r(s_dep)`` per truck type (§4.1);
* end-energy credit: ``credit · Σ_sites`` exact energy of the last pack at work end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from tenflow.errors import CaseError, TenflowError
from tenflow.mess.case import MessCase
from tenflow.mess.degradation import BatteryParams, DegradationModel, make_model
from tenflow.mess.demand import Demand, site_demand
from tenflow.mess.physics import Leg, LegModel
from tenflow.mess.prices import price_table

EPS = 1e-9
#: tolerance (kWh) of energy comparisons against reserves / bounds
TOL_KWH = 1e-7

COST_COLUMNS = ("energy", "charging", "tolls", "maintenance", "wages", "degradation_calendar",
                "degradation_cycle")


def level_floor(x: float | np.ndarray) -> Any:
    """⌊x + ε⌋ (conservative rounding of §6.1)."""
    return np.floor(np.asarray(x, dtype=float) + EPS).astype(np.int64)


def level_ceil(x: float | np.ndarray) -> Any:
    """⌈x − ε⌉."""
    return np.ceil(np.asarray(x, dtype=float) - EPS).astype(np.int64)


def _key(x: Any) -> str:
    """Canonical string form of a node or truck id (int-like floats lose their '.0')."""
    if isinstance(x, (float, np.floating)) and float(x).is_integer():
        return str(int(x))
    return str(x)


@dataclass
class TypeInfo:
    """Grid data of one truck type."""

    name: str
    ids: list[str]
    pack_kwh: float
    delta: float
    wage: float
    qmin: int
    qmax: int
    qdep: int
    a: int
    b: int
    max_charge_kw: float


@dataclass
class SiteInfo:
    node: Any
    pack_kwh: float
    e0: float
    reserve_kwh: float
    end_kwh: float
    ws: float
    we: float
    work_start: float
    work_end: float
    demand: Demand


@dataclass
class ChargerInfo:
    node: Any
    power_kw: float
    plugs: int
    efficiency: float
    fee: float
    price: np.ndarray  # 24 hourly $/kWh (before fees)
    bus: str


def hourly_prices(case: MessCase) -> dict[str, np.ndarray]:
    """Hourly $/kWh per bus from the case's price source (mess.md §5).

    Uses :func:`tenflow.mess.prices.price_table` (the case's configured price provider).
    """
    tab = price_table(case)
    out: dict[str, np.ndarray] = {}
    for bus, g in tab.groupby(tab["bus"].map(_key), sort=False):
        arr = np.full(24, np.nan)
        arr[g["hour"].to_numpy(int)] = g["price_per_kwh"].to_numpy(float)
        out[str(bus)] = arr
    return out


class EvalContext:
    """Everything the evaluator needs from a case, built once (grid, fleet, sites, chargers, prices, models).

    Parameters
    ----------
    case
        The MESS case.
    degradation
        Degradation model name (default: ``battery.model`` of the case).
    """

    def __init__(self, case: MessCase, degradation: str | None = None) -> None:
        cfg = case.config
        self.case = case
        self.start, self.end = case.horizon
        self.dt = float(cfg["time"]["step_min"]) / 60.0
        self.J = int(round((self.end - self.start) / self.dt))
        bucket = float(cfg["soc"]["bucket"])
        self.L = int(round(1.0 / bucket))
        self.depot = case.depot
        self.depot_key = _key(case.depot)
        self.s_dep = float(cfg["depot"]["s_dep"])
        costs = cfg["costs"]
        self.per_km = float(costs["toll_per_km"]) + float(costs["maintenance_per_km"])
        self.toll = float(costs["toll_per_km"])
        self.maint = float(costs["maintenance_per_km"])
        self.fee_all = float(costs["charge_fee_per_kwh"])
        self.n_sigma = int(level_ceil(float(costs["service_min"]) / 60.0 / self.dt))
        self.credit = float(costs["end_energy_credit_per_kwh"])
        self.model_name = str(degradation or cfg["battery"]["model"])
        self.legs = LegModel(case)
        self.roles = {_key(i): str(r) for i, r in zip(case.nodes["id"], case.nodes["role"], strict=True)}
        self.node_by_key = {_key(i): i for i in case.nodes["id"]}
        self.arc_km = {(_key(a), _key(b)): float(d) for a, b, d in
                       zip(case.arcs["from"], case.arcs["to"], case.arcs["length_km"], strict=True)}
        self.arc_grade = {(_key(a), _key(b)): float(g) for a, b, g in
                          zip(case.arcs["from"], case.arcs["to"], case.arcs["grade_pct"], strict=True)}
        # fleet
        self.types: dict[str, TypeInfo] = {}
        self.truck_type: dict[str, str] = {}
        for _, r in case.truck_types().iterrows():
            q = float(r["mess_kwh"])
            name = str(r["type"])
            a0 = float(r["avail_start"]) if not _isnan(r["avail_start"]) else self.start
            b0 = float(r["avail_end"]) if not _isnan(r["avail_end"]) else self.end
            ti = TypeInfo(
                name=name, ids=[_key(i) for i in r["ids"]], pack_kwh=q, delta=bucket * q,
                wage=float(r["wage_per_h"]),
                qmin=int(level_ceil(float(r["soc_min"]) * self.L)),
                qmax=int(level_floor(float(r["soc_max"]) * self.L)),
                qdep=int(level_ceil(self.s_dep * self.L)),
                a=int(level_ceil((a0 - self.start) / self.dt)),
                b=int(level_floor((b0 - self.start) / self.dt)),
                max_charge_kw=float(r["max_charge_kw"]),
            )
            self.types[name] = ti
            for i in ti.ids:
                self.truck_type[i] = name
        # sites
        self.sites: dict[str, SiteInfo] = {}
        for _, s in case.sites.iterrows():
            q = float(s["mess_kwh"])
            res = float(s["reserve_soc"]) * q
            esm = s["end_soc_min"]
            end = max(float(s["reserve_soc"]), float(esm) if not _isnan(esm) else 0.0) * q
            self.sites[_key(s["node"])] = SiteInfo(
                node=s["node"], pack_kwh=q, e0=float(s["soc_init"]) * q, reserve_kwh=res, end_kwh=end,
                ws=float(s["window_start"]), we=float(s["window_end"]), work_start=float(s["work_start"]),
                work_end=float(s["work_end"]), demand=site_demand(case, s["node"]))
        # chargers and prices
        prices = hourly_prices(case)
        self.chargers: dict[str, ChargerInfo] = {}
        for _, c in case.chargers.iterrows():
            bus = _key(c["bus"])
            if bus not in prices:
                raise CaseError(f"charger {c['node']} (bus {bus}): no prices", file="prices.csv", code="E-PRICE")
            self.chargers[_key(c["node"])] = ChargerInfo(
                node=c["node"], power_kw=float(c["power_kw"]), plugs=int(c["plugs"]),
                efficiency=float(c["efficiency"]), fee=float(c["fee_per_kwh"]), price=prices[bus], bus=bus)
        dep = cfg["depot"]
        if float(dep["charger_kw"]) > 0:
            if dep.get("price_flat") is not None and not _isnan(dep["price_flat"]):
                dprice = np.full(24, float(dep["price_flat"]))
                dbus = "flat"
            else:
                dbus = _key(dep.get("price_bus"))
                if dbus not in prices:
                    raise CaseError(f"depot price bus {dbus}: no prices", file="case.toml",
                                    field="depot.price_bus", code="E-PRICE")
                dprice = prices[dbus]
            self.chargers["depot"] = ChargerInfo(
                node=self.depot, power_kw=float(dep["charger_kw"]), plugs=int(dep["plugs"]),
                efficiency=float(dep["efficiency"]), fee=0.0, price=dprice, bus=dbus)
        self._models: dict[float, DegradationModel] = {}

    # ------------------------------------------------------------------------------------------------
    def model(self, pack_kwh: float) -> DegradationModel:
        """Degradation model for a pack of ``pack_kwh``."""
        m = self._models.get(pack_kwh)
        if m is None:
            params = BatteryParams.from_mapping(self.case.config["battery"], pack_kwh)
            m = make_model(self.model_name, params)
            self._models[pack_kwh] = m
        return m

    def t(self, j: Any) -> Any:
        """Clock time of grid step j."""
        return self.start + np.asarray(j, dtype=float) * self.dt

    def hour(self, j: Any) -> Any:
        """Hour of the day containing t_j."""
        return np.floor(self.t(j) + EPS).astype(np.int64) % 24

    def step_of(self, hours: float, up: bool) -> int:
        x = (hours - self.start) / self.dt
        return int(level_ceil(x) if up else level_floor(x))

    def charger_of(self, arc_charger: Any, node: Any) -> ChargerInfo | None:
        key = _key(arc_charger) if arc_charger not in (None, "") and not _isnan(arc_charger) else _key(node)
        if key == self.depot_key:
            key = "depot"
        return self.chargers.get(key)

    @cached_property
    def n_trucks(self) -> int:
        return sum(len(t.ids) for t in self.types.values())


def _isnan(x: Any) -> bool:
    try:
        return x is None or (isinstance(x, float) and math.isnan(x)) or (isinstance(x, str) and x == "")
    except TypeError:
        return False


# ------------------------------------------------------------------------------------------------------
@dataclass
class Evaluation:
    """Result of :func:`evaluate`.

    Attributes
    ----------
    method, total
        Plan method and its objective J (§6.1) in $.
    breakdown
        Components of J: ``energy`` (depot electricity), ``charging`` (en-route electricity incl. fees), ``tolls``,
        ``maintenance``, ``wages``, ``degradation_calendar``, ``degradation_cycle`` (trip arcs + site periods +
        idle packs), ``end_credit`` (subtracted) and ``total``; plus the parts ``wear_trips``, ``wear_sites``,
        ``wear_idle``.
    arcs
        One row per plan arc with the replayed quantities and cost columns.
    trips
        One row per trip (times, levels, km, kWh, cost columns, total).
    site_periods
        One row per installed pack period (site, install/removal step, energies and levels, wear).
    site_soc
        Site pack SoC per site and grid step (exact energy / capacity).
    """

    method: str
    total: float
    breakdown: dict[str, float]
    arcs: pd.DataFrame
    trips: pd.DataFrame
    site_periods: pd.DataFrame
    site_soc: pd.DataFrame
    ctx: EvalContext = field(repr=False)

    def per_truck(self) -> pd.DataFrame:
        """Cost breakdown per truck (§6.6) plus rows ``sites``, ``idle_packs`` and ``total``."""
        cols = ["trips", "km", "kwh_traction", "kwh_grid_enroute", "kwh_grid_depot", "kwh_delivered",
                "kwh_delivered_net", *COST_COLUMNS, "total"]
        tr = self.trips.copy()
        tr["trips"] = 1
        g = tr.groupby("truck", sort=True)[cols].sum().reset_index()
        g.insert(1, "type", g["truck"].map(self.ctx.truck_type))
        b = self.breakdown
        zero = {c: 0.0 for c in cols}
        sites = dict(zero, truck="sites", type="", degradation_calendar=b["wear_sites_calendar"],
                     degradation_cycle=b["wear_sites_cycle"], total=b["wear_sites"])
        idle = dict(zero, truck="idle_packs", type="", degradation_calendar=b["wear_idle"], total=b["wear_idle"])
        credit = dict(zero, truck="end_credit", type="", total=-b["end_credit"])
        tot: dict[str, Any] = {c: float(g[c].sum()) for c in cols}
        tot.update(truck="total", type="", degradation_calendar=b["degradation_calendar"],
                   degradation_cycle=b["degradation_cycle"], total=b["total"])
        out = pd.concat([g, pd.DataFrame([sites, idle, credit, tot])], ignore_index=True)
        out["cost_per_km"] = np.where(out["km"] > 0, out["total"] / out["km"].where(out["km"] > 0, 1.0), np.nan)
        out["cost_per_kwh_delivered"] = np.where(
            out["kwh_delivered"] > 0, out["total"] / out["kwh_delivered"].where(out["kwh_delivered"] > 0, 1.0),
            np.nan)
        return out[["truck", "type", *cols, "cost_per_km", "cost_per_kwh_delivered"]]

    def summary(self) -> dict[str, float]:
        """Totals of §6.6 for the comparison table."""
        tr = self.trips
        km = float(tr["km"].sum()) if len(tr) else 0.0
        kd = float(tr["kwh_delivered"].sum()) if len(tr) else 0.0
        out = {
            "trips": float(len(tr)), "km": km,
            "kwh_traction": float(tr["kwh_traction"].sum()) if len(tr) else 0.0,
            "kwh_grid_enroute": float(tr["kwh_grid_enroute"].sum()) if len(tr) else 0.0,
            "kwh_grid_depot": float(tr["kwh_grid_depot"].sum()) if len(tr) else 0.0,
            "kwh_delivered": kd,
            "kwh_delivered_net": float(tr["kwh_delivered_net"].sum()) if len(tr) else 0.0,
        }
        out.update({k: self.breakdown[k] for k in (*COST_COLUMNS, "end_credit", "total")})
        out["cost_per_km"] = out["total"] / km if km > 0 else math.nan
        out["cost_per_kwh_delivered"] = out["total"] / kd if kd > 0 else math.nan
        return out


def _plan_frames(plan: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    trips = getattr(plan, "trips", None)
    arcs = getattr(plan, "arcs", None)
    if not isinstance(trips, pd.DataFrame) or not isinstance(arcs, pd.DataFrame):
        raise TenflowError("plan: expected DataFrames 'trips' and 'arcs'")
    need_t = ("trip", "type", "truck", "site")
    need_a = ("trip", "seq", "kind", "frm", "to", "j_from", "j_to", "q_from", "q_to")
    for c in need_t:
        if c not in trips.columns:
            raise TenflowError(f"plan.trips: missing column '{c}'")
    for c in need_a:
        if c not in arcs.columns:
            raise TenflowError(f"plan.arcs: missing column '{c}'")
    arcs = arcs.sort_values(["trip", "seq"], kind="stable").reset_index(drop=True)
    if "charger" not in arcs.columns:
        arcs = arcs.assign(charger="")
    return trips.reset_index(drop=True), arcs


def replay_arcs(ctx: EvalContext, trips: pd.DataFrame, arcs: pd.DataFrame) -> pd.DataFrame:
    """Replay every arc with the physics and price modules; add continuous quantities and cost columns.

    Added columns: ``type, truck, t_from, t_to, km, grade, travel_h, n_steps_phys, leg_kwh, e_end_kwh, e_low_kwh,
    q_end_phys`` (travel: exact energy integrated from ``q_from·δ`` with the ``soc_max`` cap, lowest energy along
    the leg, the conservative level), ``pack_kwh, grid_kwh, price, charge_cap_q, plugs_of`` (charging) and the cost
    columns ``energy, charging, tolls, maintenance, deg_cal, deg_cyc``.
    """
    a = arcs.copy()
    ttype = dict(zip(trips["trip"], trips["type"].map(str), strict=True))
    ttruck = dict(zip(trips["trip"], trips["truck"].map(_key), strict=True))
    a["type"] = a["trip"].map(ttype)
    a["truck"] = a["trip"].map(ttruck)
    if a["type"].isna().any():
        bad = sorted(set(a.loc[a["type"].isna(), "trip"]))
        raise TenflowError(f"plan.arcs: trips {bad} not in plan.trips")
    unknown = sorted(set(a["type"]) - set(ctx.types))
    if unknown:
        raise TenflowError(f"plan: unknown truck types {unknown}")
    n = len(a)
    a["t_from"] = ctx.t(a["j_from"].to_numpy())
    a["t_to"] = ctx.t(a["j_to"].to_numpy())
    delta = a["type"].map(lambda k: ctx.types[k].delta).to_numpy(float)
    pack = a["type"].map(lambda k: ctx.types[k].pack_kwh).to_numpy(float)
    a["delta"] = delta
    kind = a["kind"].to_numpy()
    km = np.zeros(n)
    grade = np.zeros(n)
    travel_h = np.full(n, np.nan)
    n_phys = np.full(n, -1, dtype=np.int64)
    leg_kwh = np.zeros(n)
    e_end = np.full(n, np.nan)
    e_low = np.full(n, np.nan)
    q_end_phys = np.full(n, -1, dtype=np.int64)
    tr_idx = np.flatnonzero(kind == "travel")
    for i in tr_idx:  # one physics call per travel arc (scalar API of physics.LegModel)
        frm, to = a.at[i, "frm"], a.at[i, "to"]
        k = (_key(frm), _key(to))
        if k not in ctx.arc_km:
            raise TenflowError(f"plan trip {a.at[i, 'trip']} arc {a.at[i, 'seq']}: no road {frm}→{to}")
        lg: Leg = ctx.legs.leg(a.at[i, "type"], ctx.node_by_key[k[0]], ctx.node_by_key[k[1]],
                               float(a.at[i, "t_from"]))
        km[i], grade[i], travel_h[i], leg_kwh[i] = lg.km, ctx.arc_grade[k], lg.duration_h, lg.energy_kwh
        n_phys[i] = int(level_ceil(lg.duration_h / ctx.dt))
        e1, lo = lg.integrate(float(a.at[i, "q_from"]) * delta[i])
        e_end[i], e_low[i] = float(e1), float(lo)
        q_end_phys[i] = int(level_floor(float(e1) / delta[i]))
    a["km"], a["grade"], a["travel_h"], a["n_steps_phys"] = km, grade, travel_h, n_phys
    a["leg_kwh"], a["e_end_kwh"], a["e_low_kwh"], a["q_end_phys"] = leg_kwh, e_end, e_low, q_end_phys
    # charging
    dq = (a["q_to"] - a["q_from"]).to_numpy(float)
    is_ch = kind == "charge"
    pack_in = np.where(is_ch, dq * delta, 0.0)
    grid = np.zeros(n)
    price = np.full(n, np.nan)
    cap_q = np.full(n, -1, dtype=np.int64)
    where = np.array([""] * n, dtype=object)
    is_depot = np.zeros(n, dtype=bool)
    hours = ctx.hour(a["j_from"].to_numpy())
    for i in np.flatnonzero(is_ch):
        ch = ctx.charger_of(a.at[i, "charger"], a.at[i, "frm"])
        if ch is None:
            raise TenflowError(f"plan trip {a.at[i, 'trip']} arc {a.at[i, 'seq']}: no charger at node {a.at[i, 'frm']}")
        is_depot[i] = ch.node == ctx.depot and _key(a.at[i, "frm"]) == ctx.depot_key
        where[i] = "depot" if is_depot[i] else _key(ch.node)
        grid[i] = pack_in[i] / ch.efficiency
        price[i] = ch.price[hours[i]] + ch.fee + ctx.fee_all
        p_eff = min(ch.power_kw, ctx.types[a.at[i, "type"]].max_charge_kw)
        cap_q[i] = int(level_floor(p_eff * ch.efficiency * ctx.dt / delta[i]))
    a["pack_kwh_in"], a["grid_kwh"], a["price"], a["charge_cap_q"] = pack_in, grid, price, cap_q
    a["charge_site"] = where
    cost_el = grid * np.nan_to_num(price)
    a["energy"] = np.where(is_depot, cost_el, 0.0)
    a["charging"] = np.where(is_ch & ~is_depot, cost_el, 0.0)
    a["tolls"] = km * ctx.toll
    a["maintenance"] = km * ctx.maint
    # wear of the carried pack on the bucket trajectory
    deg_cal = np.zeros(n)
    deg_cyc = np.zeros(n)
    L = ctx.L
    for p in np.unique(pack):
        m = ctx.model(float(p))
        sel = pack == p
        s1 = a["q_from"].to_numpy(float)[sel] / L
        s2 = a["q_to"].to_numpy(float)[sel] / L
        k = kind[sel]
        h = (a["j_to"] - a["j_from"]).to_numpy(float)[sel] * ctx.dt
        if m.is_leg_model:
            trv = k == "travel"
            cyc = np.zeros(sel.sum())
            if trv.any():
                cyc[trv] = m.leg(s1[trv], s2[trv], a["t_from"].to_numpy()[sel][trv], a["t_to"].to_numpy()[sel][trv])
            deg_cyc[sel] = cyc
            continue
        # swap arcs: the delivered pack (level q_from) sits on the truck during the service
        s2c = np.where(k == "swap", s1, s2)
        r_dep = float(m.calendar_rate(ctx.s_dep))
        cal = m.calendar(s1, s2c, h) - h * r_dep
        crate = np.full(sel.sum(), np.nan)
        trv = k == "travel"
        with np.errstate(divide="ignore", invalid="ignore"):
            crate[trv] = np.abs(leg_kwh[sel][trv]) / (p * travel_h[sel][trv])
        crate = np.where(np.isfinite(crate), crate, 0.0)
        cyc = np.zeros(sel.sum())
        moving = (k == "travel") | (k == "charge")
        if moving.any():
            cr = np.where(k[moving] == "travel", crate[moving], 0.0)
            cyc_m = m.cycle(s1[moving], s2[moving], cr) if trv.any() else m.cycle(s1[moving], s2[moving])
            # charge arcs: C-rate irrelevant (no lfp charge wear); use the model default
            if (k[moving] == "charge").any():
                cyc_ch = m.cycle(s1[moving], s2[moving])
                cyc_m = np.where(k[moving] == "charge", cyc_ch, cyc_m)
            cyc[moving] = cyc_m
        deg_cal[sel] = cal
        deg_cyc[sel] = cyc
    a["deg_cal"], a["deg_cyc"] = deg_cal, deg_cyc
    return a


def site_chains(ctx: EvalContext, trips: pd.DataFrame, arcs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Site periods from the swaps of the plan (rule 2–3 of §6.1), with wear per period.

    Returns one row per installed pack: ``site, period, trip`` (−1 for the initial pack), ``j_install,
    q_install, e_install, j_remove`` (next swap completion, or −1 for the last pack), ``e_remove`` (exact energy at
    removal / work end), ``q_remove``, ``e_min_work`` (lowest exact energy during work hours of the period),
    ``deg_cal, deg_cyc``; and the site SoC table (site, j, time, soc) of the exact energies on the grid.
    """
    sw = arcs[arcs["kind"] == "swap"][["trip", "frm", "j_from", "j_to", "q_from", "q_to"]].copy()
    sw["site"] = sw["frm"].map(_key)
    rows: list[dict[str, Any]] = []
    soc_rows: list[pd.DataFrame] = []
    L = ctx.L
    steps = np.arange(ctx.J + 1)
    tgrid = ctx.t(steps)
    for skey, si in ctx.sites.items():
        s = sw[sw["site"] == skey].sort_values(["j_to", "trip"], kind="stable")
        delta = si.pack_kwh / L
        m = ctx.model(si.pack_kwh)
        Dg = si.demand.D(tgrid)
        periods = [(-1, 0, si.e0, int(level_floor(si.e0 / delta)))]
        for _, r in s.iterrows():
            periods.append((int(r["trip"]), int(r["j_to"]), float(r["q_from"]) * delta, int(r["q_from"])))
        soc = np.full(ctx.J + 1, np.nan)
        for p, (trip, j0, e, q0) in enumerate(periods):
            last = p == len(periods) - 1
            j1 = ctx.J if last else periods[p + 1][1]
            jj = np.arange(j0, j1 + 1)
            energy = e - (Dg[jj] - Dg[j0])
            lev = level_floor(energy / delta)
            lev[0] = q0
            soc[j0:j1 + 1] = energy / si.pack_kwh
            if m.is_leg_model:
                cal = cyc = 0.0
            else:
                s_a, s_b = lev[:-1] / L, lev[1:] / L
                draw = np.diff(Dg[jj])
                cal = float(np.sum(m.calendar(s_a, s_b, np.full(len(s_a), ctx.dt))))
                cr = draw / (si.pack_kwh * ctx.dt)
                cyc = float(np.sum(m.cycle(s_a, s_b, cr))) if len(s_a) else 0.0
            # exact minimum over the work hours of the period (D is piecewise linear: check breakpoints too)
            t0, t1 = float(tgrid[j0]), float(tgrid[j1])
            bp = si.demand.times
            tt = np.concatenate([[t0, t1], bp[(bp > t0) & (bp < t1)]])
            e_min = float(np.min(e - (si.demand.D(tt) - Dg[j0])))
            e_rem = float(energy[-1]) if not last else float(e - (si.demand.D(si.work_end) - Dg[j0]))
            rows.append({
                "site": si.node, "period": p, "trip": trip, "j_install": j0, "q_install": q0, "e_install": e,
                "j_remove": -1 if last else j1, "e_remove": e_rem, "q_remove": int(level_floor(e_rem / delta)),
                "e_min": e_min, "deg_cal": cal, "deg_cyc": cyc,
            })
        soc_rows.append(pd.DataFrame({"site": si.node, "j": steps, "time": tgrid, "soc": soc}))
    per = pd.DataFrame(rows, columns=["site", "period", "trip", "j_install", "q_install", "e_install", "j_remove",
                                      "e_remove", "q_remove", "e_min", "deg_cal", "deg_cyc"])
    site_soc = pd.concat(soc_rows, ignore_index=True) if soc_rows else pd.DataFrame()
    return per, site_soc


def evaluate(case: MessCase, plan: Any, degradation: str | None = None, *,
             ctx: EvalContext | None = None) -> Evaluation:
    """Recompute the objective J of mess.md §6.1 and its breakdown (§6.6) for ``plan``.

    Parameters
    ----------
    case
        The case the plan was made for.
    plan
        A :class:`tenflow.mess.plan.Plan` (``trips`` and ``arcs`` frames of the contract).
    degradation
        Degradation model name; default ``battery.model`` of the case.
    ctx
        A prebuilt :class:`EvalContext` (to evaluate several plans of one case cheaply).

    Returns
    -------
    Evaluation
        ``total`` = J; ``breakdown``; per-arc, per-trip and per-site-period tables.

    Notes
    -----
    The evaluator does not check feasibility (see :mod:`tenflow.mess.checks`); it costs what the plan says.
    """
    if ctx is None:
        ctx = EvalContext(case, degradation)
    trips, arcs = _plan_frames(plan)
    a = replay_arcs(ctx, trips, arcs)
    per, site_soc = site_chains(ctx, trips, a)
    # per-trip aggregation
    tr = trips[["trip", "type", "truck", "site"]].copy()
    tr["truck"] = tr["truck"].map(_key)
    g = a.groupby("trip", sort=True)
    first = g.first()
    last = g.last()
    tr["j_start"] = tr["trip"].map(first["j_from"]).astype("Int64")
    tr["j_end"] = tr["trip"].map(last["j_to"]).astype("Int64")
    sw = a[a["kind"] == "swap"].groupby("trip").first()
    tr["j_arrive"] = tr["trip"].map(sw["j_from"]).astype("Int64")
    tr["j_swap_end"] = tr["trip"].map(sw["j_to"]).astype("Int64")
    tr["q_start"] = tr["trip"].map(first["q_from"]).astype("Int64")
    tr["q_delivered"] = tr["trip"].map(sw["q_from"]).astype("Int64")
    tr["q_removed"] = tr["trip"].map(sw["q_to"]).astype("Int64")
    tr["q_end"] = tr["trip"].map(last["q_to"]).astype("Int64")
    for c in ("start", "arrive", "swap_end", "end"):
        tr[f"t_{c}"] = ctx.t(tr[f"j_{c}"].astype(float).to_numpy())
    delta = tr["type"].map(lambda k: ctx.types[str(k)].delta).to_numpy(float)
    wage = tr["type"].map(lambda k: ctx.types[str(k)].wage).to_numpy(float)
    # traction energy actually drawn from the pack (regeneration above soc_max is lost to the brakes)
    a["pack_drawn_kwh"] = np.where(a["kind"] == "travel", a["q_from"] * a["delta"] - a["e_end_kwh"], 0.0)
    g = a.groupby("trip", sort=True)
    sums = g[["km", "pack_drawn_kwh", "energy", "charging", "tolls", "maintenance", "deg_cal", "deg_cyc"]].sum()
    ch = a[a["kind"] == "charge"]
    dep = ch[ch["charge_site"] == "depot"].groupby("trip")["grid_kwh"].sum()
    enr = ch[ch["charge_site"] != "depot"].groupby("trip")["grid_kwh"].sum()
    tr["km"] = tr["trip"].map(sums["km"]).fillna(0.0)
    tr["kwh_traction"] = tr["trip"].map(sums["pack_drawn_kwh"]).fillna(0.0)
    tr["kwh_grid_enroute"] = tr["trip"].map(enr).fillna(0.0)
    tr["kwh_grid_depot"] = tr["trip"].map(dep).fillna(0.0)
    tr["kwh_delivered"] = tr["q_delivered"].astype(float).to_numpy() * delta
    # removed pack: exact energy at removal (from the site chain)
    rem = per[per["j_remove"] >= 0].copy()
    nxt = per[per["trip"] >= 0][["site", "period", "trip"]]
    rem = rem.merge(nxt.assign(period=nxt["period"] - 1).rename(columns={"trip": "by_trip"}),
                    on=["site", "period"], how="left")
    e_removed = dict(zip(rem["by_trip"], rem["e_remove"], strict=True))
    tr["kwh_removed"] = tr["trip"].map(e_removed).astype(float)
    tr["kwh_delivered_net"] = tr["kwh_delivered"] - tr["kwh_removed"].fillna(0.0)
    tr["energy"] = tr["trip"].map(sums["energy"]).fillna(0.0)
    tr["charging"] = tr["trip"].map(sums["charging"]).fillna(0.0)
    tr["tolls"] = tr["trip"].map(sums["tolls"]).fillna(0.0)
    tr["maintenance"] = tr["trip"].map(sums["maintenance"]).fillna(0.0)
    tr["wages"] = wage * (tr["t_end"] - tr["t_start"])
    tr["degradation_calendar"] = tr["trip"].map(sums["deg_cal"]).fillna(0.0)
    tr["degradation_cycle"] = tr["trip"].map(sums["deg_cyc"]).fillna(0.0)
    tr["total"] = tr[list(COST_COLUMNS)].sum(axis=1)
    # site periods, idle packs, credit
    wear_sites_cal = float(per["deg_cal"].sum())
    wear_sites_cyc = float(per["deg_cyc"].sum())
    wear_idle = 0.0
    H = ctx.end - ctx.start
    for ti in ctx.types.values():
        m = ctx.model(ti.pack_kwh)
        if not m.is_leg_model:
            wear_idle += len(ti.ids) * H * float(m.calendar_rate(ctx.s_dep))
    last_packs = per.sort_values("period").groupby("site").last()
    credit = ctx.credit * float(np.maximum(last_packs["e_remove"], 0.0).sum()) if ctx.credit else 0.0
    b: dict[str, float] = {c: float(tr[c].sum()) for c in COST_COLUMNS}
    b["wear_trips"] = b["degradation_calendar"] + b["degradation_cycle"]
    b["wear_sites_calendar"] = wear_sites_cal
    b["wear_sites_cycle"] = wear_sites_cyc
    b["wear_sites"] = wear_sites_cal + wear_sites_cyc
    b["wear_idle"] = wear_idle
    b["degradation_calendar"] += wear_sites_cal + wear_idle
    b["degradation_cycle"] += wear_sites_cyc
    b["end_credit"] = credit
    b["total"] = sum(b[c] for c in COST_COLUMNS) - credit
    return Evaluation(method=str(getattr(plan, "method", "")), total=b["total"], breakdown=b, arcs=a, trips=tr,
                      site_periods=per, site_soc=site_soc, ctx=ctx)
