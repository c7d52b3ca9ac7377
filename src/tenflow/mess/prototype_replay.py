"""Replay of the Co-OPT MESS prototype's day simulation (mess.md Appendix B, ``replay-prototype``).

A faithful re-implementation of the prototype's greedy simulation, for comparison and verification only: it
enforces no constraint and optimises nothing. Deterministic by default (energy noise 0, DA = 27 ¢/kWh every hour).

What is replayed (Appendix B; the quirks are kept on purpose):

* B.1 vehicles 1–24 of ``trucks.csv`` in id order (Q = ``mess_kwh`` = 350 kWh), roles and list order of the
  case (chargers in ``chargers.csv`` order break ties), bus map of ``chargers.csv``; g 9.8; electricity
  0.20 $/kWh, toll 0.20 $/km, maintenance 0.21 $/km; service 0.5 h; a new MESS leaves at 90 %, the old MESS is
  assumed at 20 %; chargers always charge to 90 % at 500 kW; a missing road counts as 10⁶ km and is evaluated,
  never excluded (its grade is 0).
* B.2 leg functions: prototype traffic τ (segment chosen once from the leg start, zone split 2 km / half / half),
  prototype energy E = φ·e_k·d + a_k + m·g·sin(γ/100)/3600·d (+ε) including a_k on 0-km legs (charger = start
  node), s_end = min(100, max(0, s − 100·E/Q)), c_op(d, t, k) = d·(0.20·e_k + 0.20 + 0.21) + w_k·t; charging
  at c from s: t_ch = (90 − s)/100·Q/500 h, E_ch = (90 − s)·Q/100 kWh (negative above 90 %), cost E_ch·price
  with the price of hour ⌊t_p + t_ch⌋ mod 24, t_p the **start time of the path**.
* B.3 degradation presets of :mod:`tenflow.mess.degradation` (m1/m3 → ``proto-m3-gen``, m2 → ``proto-m2-lfp``,
  nmc-hist → ``proto-m1-nmc``) with the global throughput counter A and the prototype's A₀ / time arguments.
* B.4 path evaluator, B.5 trip (CO and DM routes, old-MESS return with its charging time added twice),
  B.6 day simulation (15-min excavator steps 07:00–18:00, dispatch at even hours), B.7 totals.

Energy noise (``noise_seed``): one draw ε ~ N(0, 0.01) kWh per energy evaluation, drawn in the prototype's
evaluation order (including its re-evaluation of the chosen path), from ``numpy.random.default_rng(seed)``.

One deviation that is not observable in the shipped data: the prototype crashes (``KeyError``) when a vehicle is
dispatched a second time (its merge step reads a missing key); here a re-used vehicle's trips are summed into
its row (charging $ and minutes included).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tenflow.errors import CaseError
from tenflow.mess.case import MessCase, NodeId, load_mess_case, parse_ids
from tenflow.mess.degradation import BatteryParams, DegradationModel, make_model
from tenflow.mess.physics import TruckParams, prototype_energy_kwh
from tenflow.mess.prices import PrototypePriceProvider, da_cents
from tenflow.mess.traffic import TrafficModel

# ------------------------------------------------------------------------------------------------------------
# B.1 constants of the prototype
# ------------------------------------------------------------------------------------------------------------
ELECTRICITY_PER_KWH = 0.20
TOLL_PER_KM = 0.20
MAINTENANCE_PER_KM = 0.21
SERVICE_H = 0.5
SOC_NEW = 90.0
SOC_OLD = 20.0
CHARGE_TO = 90.0
CHARGER_KW = 500.0
MISSING_KM = 1e6
SITE_THRESHOLD = 20.0
DAY_START, DAY_END, DAY_STEP = 7.0, 18.0, 0.25
ASSIGNMENT_WINDOW_H = 2.0
DELIVERY_FRACTION = 0.90
NOISE_SD_KWH = 0.01

#: replay model → (degradation preset, φ, ΔRT on small scale, ΔRT on large scale, uses throughput A)
MODELS: dict[str, tuple[str, float, bool, bool, bool]] = {
    "m3": ("proto-m3-gen", 1.0, True, False, False),
    "m1": ("proto-m3-gen", 1.0, True, False, False),
    "m2": ("proto-m2-lfp", 0.1, False, True, True),
    "nmc-hist": ("proto-m1-nmc", 0.1, True, True, True),
}

VEHICLE_COLUMNS = [
    "vehicle", "type", "trips", "dispatch_h", "sites", "co_route", "dm_route", "co_km", "dm_km", "co_cost",
    "dm_cost", "finish_h", "delivered_kwh", "operational", "co_degradation", "dm_degradation", "charging_cost",
    "charging_min",
]
TOTAL_COLUMNS = [
    "trips", "co_km", "dm_km", "co_cost", "dm_cost", "operational", "degradation", "system",
    "energy_delivered_kwh", "charging", "total_incl_charging",
]


# ------------------------------------------------------------------------------------------------------------
# result
# ------------------------------------------------------------------------------------------------------------
@dataclass
class ReplayResult:
    """Outcome of :func:`replay`.

    Attributes
    ----------
    case_name, model, scale
        Identity of the run (``scale`` is ``"small"`` or ``"large"``, it selects the ΔRT default).
    options
        ``noise_seed``, ``da_seed``, ``da_series``, ``include_rt``, ``phi``, ``preset``.
    vehicles
        One row per dispatched vehicle (id order): :data:`VEHICLE_COLUMNS` — CO and DM route (``"0 -> 1 -> 2"``),
        km (Σ matrix km along the route, old-MESS km excluded), cost, finish time (h), delivered kWh, operational
        cost c_op(CO km, finish − dispatch), CO/DM degradation, charging $ and minutes.
    totals
        One row, :data:`TOTAL_COLUMNS` (B.7).
    trips
        One row per trip (vehicle, dispatch time, site list, the same quantities as ``vehicles`` plus the
        old-MESS charger, the arrival SoC of the new MESS and the throughput counter after the trip).
    events
        Dispatch events: time, sites needing replacement (list order), their SoC, assigned vehicle or ``None``.
    site_soc
        Site SoC (%) after each 15-min step, before dispatch (``time``, ``site``, ``soc``, ``needs_replacement``).
    lmp
        The price table used: ``bus``, ``hour``, ``cents``.
    """

    case_name: str
    model: str
    scale: str
    options: dict[str, Any]
    vehicles: pd.DataFrame
    totals: pd.DataFrame
    trips: pd.DataFrame
    events: pd.DataFrame
    site_soc: pd.DataFrame
    lmp: pd.DataFrame

    # -- output --------------------------------------------------------------------------------------------
    def write(self, out: str | Path, fmt: str = "csv") -> Path:
        """Write the replay to folder ``out`` atomically (mess.md §7 conventions).

        Files: ``vehicles``, ``totals``, ``trips``, ``events``, ``site_soc``, ``lmp`` (CSV, or Parquet with
        ``fmt="parquet"``), ``report.md`` (:meth:`to_markdown`), ``report.txt`` (:meth:`to_text`, the prototype's
        printed summary) and ``run.json`` (case, model, options, totals, versions, time stamp).
        """
        from tenflow.results.io import atomic_dir, atomic_write_text, provenance, write_json, write_table

        with atomic_dir(out) as tmp:
            for name in ("vehicles", "totals", "trips", "events", "site_soc", "lmp"):
                write_table(getattr(self, name), tmp / name, fmt)
            atomic_write_text(tmp / "report.md", self.to_markdown())
            atomic_write_text(tmp / "report.txt", self.to_text())
            write_json(tmp / "run.json", provenance(command="replay-prototype", case=self.case_name,
                                                    model=self.model, scale=self.scale, options=self.options,
                                                    totals=self.totals_dict()))
        return Path(out)

    # -- formatting ----------------------------------------------------------------------------------------
    def totals_dict(self) -> dict[str, float]:
        """The B.7 totals as a plain dict."""
        return {k: float(v) for k, v in self.totals.iloc[0].items()}

    def to_markdown(self) -> str:
        """Per-vehicle table and totals as Markdown, numbers to 2 decimals (as the prototype prints them)."""
        v = self.vehicles
        head = ["vehicle", "CO route", "CO km", "CO $", "DM route", "DM km", "DM $", "finish h", "delivered kWh",
                "operational $", "CO deg $", "DM deg $", "charging $", "charging min"]
        lines = [f"# Prototype replay — {self.case_name}, model {self.model}", "",
                 "Options: " + ", ".join(f"{k}={val}" for k, val in self.options.items()), "",
                 "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in v.itertuples(index=False):
            cells = [str(r.vehicle), r.co_route, _f2(r.co_km), _f2(r.co_cost), r.dm_route, _f2(r.dm_km),
                     _f2(r.dm_cost), _f2(r.finish_h), _f2(r.delivered_kwh), _f2(r.operational),
                     _f2(r.co_degradation), _f2(r.dm_degradation), _f2(r.charging_cost), _f2(r.charging_min)]
            lines.append("| " + " | ".join(cells) + " |")
        t = self.totals_dict()
        lines += ["", "| total | value |", "|---|---|"]
        labels = {
            "trips": "trips", "co_km": "cost-optimised distance (km)", "dm_km": "distance-minimised distance (km)",
            "co_cost": "cost-optimised cost ($)", "dm_cost": "distance-minimised cost ($)",
            "operational": "operational cost ($)", "degradation": "degradation cost ($)",
            "system": "system cost ($)", "energy_delivered_kwh": "energy delivered (kWh)",
            "charging": "charging cost ($)", "total_incl_charging": "system cost incl. charging ($)",
        }
        for k in TOTAL_COLUMNS:
            lines.append(f"| {labels[k]} | {int(t[k]) if k == 'trips' else _f2(t[k])} |")
        return "\n".join(lines) + "\n"

    def to_text(self) -> str:
        """The prototype's printed summary (``display_simulation_results``), values to 2 decimals."""
        out = ["===== SIMULATION RESULTS =====", "", "1. Vehicle Routing Summary:"]
        for r in self.vehicles.itertuples(index=False):
            out += [
                "", f"Vehicle {r.vehicle}:",
                f"  Cost-optimized Route: {r.co_route}",
                f"  Cost-optimized Distance: {r.co_km:.2f} KM",
                f"  Cost-optimized Cost: USD {r.co_cost:.2f}",
                f"  Distance-minimized Route: {r.dm_route}",
                f"  Distance-minimized Distance: {r.dm_km:.2f} KM",
                f"  Distance-minimized Cost: USD {r.dm_cost:.2f}",
                f"  Finish Time: {r.finish_h:.2f} hours",
                f"  Total Delivery: {r.delivered_kwh:.2f} kWh",
                f"  Operational Cost: USD {r.operational:.2f}",
                f"  Cost-optimized Degradation Cost: USD {r.co_degradation:.2f}",
                f"  Distance-minimized Degradation Cost: USD {r.dm_degradation:.2f}",
                f"  Total Charging Cost: USD {r.charging_cost:.2f}",
                f"  Total Charging Time: {r.charging_min:.2f} Minutes",
            ]
        t = self.totals_dict()
        out += [
            "", "2. System-wide Summary:",
            f"  Total Cost-optimized Distance: {t['co_km']:.2f} KM",
            f"  Total Distance-minimized Distance: {t['dm_km']:.2f} KM",
            f"  Total Cost-optimized Cost: USD {t['co_cost']:.2f}",
            f"  Total Distance-minimized Cost: USD {t['dm_cost']:.2f}",
            f"  Total Operational Cost: USD {t['operational']:.2f}",
            f"  Total Degradation Cost: USD {t['degradation']:.2f}",
            f"  Total System Cost: USD {t['system']:.2f}",
            f"  Total Energy Delivered: {t['energy_delivered_kwh']:.2f} kWh",
            f"  Total Charging Cost: USD {t['charging']:.2f}",
            f"  Total System Cost (including charging): USD {t['total_incl_charging']:.2f}",
        ]
        return "\n".join(out) + "\n"


def _f2(x: float) -> str:
    return f"{float(x):.2f}"


# ------------------------------------------------------------------------------------------------------------
# internal records
# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Vehicle:
    """One prototype vehicle (B.1)."""

    id: int
    type: str
    params: TruckParams
    wage: float

    @property
    def q(self) -> float:
        return self.params.mess_kwh


@dataclass
class PathEval:
    """Result of the path evaluator P (B.4): route, km, elapsed h (incl. charging), cost, arrival SoC, t_ch, $."""

    route: list[NodeId]
    km: float
    elapsed: float
    cost: float
    soc: float
    charge_h: float
    charge_cost: float
    degradation: float = 0.0
    throughput: float = 0.0


@dataclass
class _Trip:
    vehicle: Vehicle
    dispatch: float
    sites: list[NodeId]
    co_route: list[NodeId] = field(default_factory=list)
    dm_route: list[NodeId] = field(default_factory=list)
    co_cost: float = 0.0
    dm_cost: float = 0.0
    co_deg: float = 0.0
    dm_deg: float = 0.0
    finish: float = 0.0
    delivered: float = 0.0
    charging_cost: float = 0.0
    charging_h: float = 0.0
    arrival_soc: dict[NodeId, float] = field(default_factory=dict)
    old_charger: NodeId | None = None
    co_km: float = 0.0
    dm_km: float = 0.0
    operational: float = 0.0
    throughput_after: float = 0.0


# ------------------------------------------------------------------------------------------------------------
# the simulator
# ------------------------------------------------------------------------------------------------------------
class _Replay:
    """State of one replay run (matrix, prices, presets, global throughput counter, noise stream)."""

    def __init__(self, case: MessCase, *, phi: float, preset: str, uses_a: bool, buses: dict[NodeId, str],
                 price_cents: dict[str, np.ndarray], noise_seed: int | None) -> None:
        self.case = case
        self.preset = preset
        self.uses_a = uses_a
        self.phi = phi
        self.depot: NodeId = case.depot
        ids = case.node_ids()
        self.index = {n: i for i, n in enumerate(ids)}
        n = len(ids)
        self.km = np.full((n, n), MISSING_KM)
        np.fill_diagonal(self.km, 0.0)
        self.grade = np.zeros((n, n))
        for frm, to, d, g in zip(case.arcs["from"], case.arcs["to"], case.arcs["length_km"], case.arcs["grade_pct"],
                                 strict=True):
            self.km[self.index[frm], self.index[to]] = float(d)
            self.grade[self.index[frm], self.index[to]] = float(g)
        self.chargers: list[NodeId] = list(case.chargers["node"])
        self.buses = buses
        self.price_cents = price_cents  # bus -> 24 hourly prices in ¢/kWh
        self.traffic = replace(TrafficModel.from_case(case), model="prototype")
        self.rng = np.random.default_rng(noise_seed) if noise_seed is not None else None
        self.A = 0.0
        self._models: dict[float, DegradationModel] = {}

    # -- B.2 leg functions --------------------------------------------------------------------------------
    def d(self, a: NodeId, b: NodeId) -> float:
        return float(self.km[self.index[a], self.index[b]])

    def tau(self, d: float, v: Vehicle, t: float) -> float:
        """Prototype travel time: 2 km in zone 1, the rest split equally over zones 2 and 3; segment from t."""
        z1 = min(2.0, d)
        rest = max(0.0, d - 2.0)
        z2 = z3 = rest / 2.0
        sp = v.params.speed_kmh
        tm = self.traffic
        return z1 / (sp * tm.factor(1, t)) + z2 / (sp * tm.factor(2, t)) + z3 / (sp * tm.factor(3, t))

    def energy(self, d: float, grade: float, v: Vehicle) -> float:
        e = float(prototype_energy_kwh(v.params, d, grade, phi=self.phi)) + v.params.aux_kwh_per_leg
        if self.rng is not None:
            e += float(self.rng.normal(0.0, NOISE_SD_KWH))
        return e

    def soc_after(self, s: float, a: NodeId, b: NodeId, v: Vehicle) -> float:
        e = self.energy(self.d(a, b), float(self.grade[self.index[a], self.index[b]]), v)
        return max(0.0, min(100.0, max(0.0, s - 100.0 * e / v.q)))

    @staticmethod
    def c_op(d: float, t: float, v: Vehicle) -> float:
        return (d * v.params.flat_kwh_per_km * ELECTRICITY_PER_KWH + t * v.wage + d * TOLL_PER_KM
                + d * MAINTENANCE_PER_KM)

    def price(self, c: NodeId, t: float) -> float:
        return float(self.price_cents[self.buses[c]][int(t) % 24]) / 100.0

    # -- B.3 degradation ----------------------------------------------------------------------------------
    def deg(self, s_i: float, s_f: float, t0: float, t1: float, a0: float) -> float:
        """Preset wear of one leg (SoC in %), clipped to [0, 1000], 0 above 85 % (the caller applies max(0, ·))."""
        key = a0 if self.uses_a else 0.0
        m = self._models.get(key)
        if m is None:
            m = make_model(self.preset, BatteryParams(throughput_ref_kwh=key))
            self._models[key] = m
        si, sf = s_i / 100.0, s_f / 100.0
        if t1 >= t0:
            return float(m.leg(si, sf, t0, t1))
        # the DM-leg quirk (t_end = T + τ may precede t_d on later DM legs): evaluate the preset formula as is
        raw_fn = getattr(m, "_raw")  # noqa: B009 - the preset's unclipped formula
        raw = float(raw_fn(np.array(s_i), np.array(s_f), np.array(t0), np.array(t1)))
        return 0.0 if s_f > 85.0 else min(max(raw, 0.0), 1000.0)

    # -- B.4 path evaluator -------------------------------------------------------------------------------
    def path(self, v: Vehicle, a: NodeId, b: NodeId, t: float, s: float, force: bool) -> PathEval:
        best: PathEval | None = None
        if not force:
            d = self.d(a, b)
            tt = self.tau(d, v, t)
            s2 = self.soc_after(s, a, b, v)
            cost = self.c_op(d, tt, v) + max(0.0, self.deg(s, s2, t, t + tt, self.A))
            best = PathEval([a, b], d, tt, cost, s2, 0.0, 0.0)
        best_ind: PathEval | None = None
        for c in self.chargers:
            d1 = self.d(a, c)
            t1 = self.tau(d1, v, t)
            s1 = self.soc_after(s, a, c, v)
            th1 = self.A + abs(s - s1) * v.q / 100.0
            t_ch = (CHARGE_TO - s1) / 100.0 * v.q / CHARGER_KW
            th_ch = th1 + (CHARGE_TO - s1) * v.q / 100.0
            e_ch = (CHARGE_TO - s1) / 100.0 * v.q
            ch_cost = e_ch * self.price(c, t + t_ch)
            d2 = self.d(c, b)
            t_dep2 = t + t1 + t_ch
            t2 = self.tau(d2, v, t_dep2)
            s2 = self.soc_after(CHARGE_TO, c, b, v)
            deg1 = self.deg(s, s1, t, t + t1, self.A)
            deg2 = self.deg(CHARGE_TO, s2, t_dep2, t_dep2 + t2, self.A + th1 + th_ch)
            cost = self.c_op(d1, t1, v) + self.c_op(d2, t2, v) + (max(0.0, deg1) + max(0.0, deg2))
            if best_ind is None or cost < best_ind.cost:
                best_ind = PathEval([a, c, b], d1 + d2, t1 + t_ch + t2, cost, s2, t_ch, ch_cost)
        if best_ind is not None and (best is None or best_ind.cost < best.cost):
            best = best_ind
        if best is None:
            raise CaseError("the prototype replay needs at least one charger", file="chargers.csv",
                            code="E-ROLE")
        return best

    def old_mess(self, v: Vehicle, start: NodeId, t: float) -> PathEval:
        """Old-MESS return from ``start`` at 20 % via the cheapest charger to the depot; updates A (B.3, B.5)."""
        best: PathEval | None = None
        dep = self.depot
        for c in self.chargers:
            d1 = self.d(start, c)
            t1 = self.tau(d1, v, t)
            s1 = self.soc_after(SOC_OLD, start, c, v)
            th1 = abs(SOC_OLD - s1) / 100.0 * v.q
            t_ch = (CHARGE_TO - s1) / 100.0 * v.q / CHARGER_KW
            th_ch = (CHARGE_TO - s1) / 100.0 * v.q
            e_ch = (CHARGE_TO - s1) / 100.0 * v.q
            ch_cost = e_ch * self.price(c, t + t_ch)
            d2 = self.d(c, dep)
            t_dep2 = t + t1 + t_ch
            t2 = self.tau(d2, v, t_dep2)
            s2 = self.soc_after(CHARGE_TO, c, dep, v)
            th2 = abs(CHARGE_TO - s2) / 100.0 * v.q
            deg1 = self.deg(SOC_OLD, s1, t, t + t1, self.A)
            deg2 = self.deg(CHARGE_TO, s2, t_dep2, t_dep2 + t2, self.A + th1 + th_ch)
            deg = deg1 + deg2
            cost = self.c_op(d1, t1, v) + self.c_op(d2, t2, v) + deg
            if best is None or cost < best.cost:
                best = PathEval([start, c, dep], d1 + d2, t1 + t_ch + t2, cost, s2, t_ch, ch_cost, deg,
                                th1 + th_ch + th2)
        if best is None:
            raise CaseError("the prototype replay needs at least one charger", file="chargers.csv",
                            code="E-ROLE")
        if self.uses_a:
            self.A += best.throughput
        return best

    # -- B.5 trip -----------------------------------------------------------------------------------------
    def route_km(self, route: Sequence[NodeId]) -> float:
        return float(sum(self.d(route[i], route[i + 1]) for i in range(len(route) - 1)))

    def trip(self, v: Vehicle, T: float, sites: list[NodeId]) -> _Trip:  # noqa: N803 - spec notation
        tr = _Trip(v, T, list(sites))
        dep = self.depot
        co, dm = [dep], [dep]
        t, s = T, SOC_NEW
        t_d, s_d = T, SOC_NEW
        visited_dm: set[NodeId] = {dep}
        L = list(sites)
        while L:
            costs = [self.path(v, co[-1], n, t, s, False).cost for n in L]
            n_star = L[_first_min(costs)]
            p = self.path(v, co[-1], n_star, t, s, False)
            co.extend(p.route[1:])
            tr.co_cost += p.cost
            tr.co_deg += max(0.0, p.cost - self.c_op(p.km, p.elapsed, v))
            t += max(0.0, p.elapsed + SERVICE_H)
            s = min(100.0, p.soc)
            tr.charging_h += p.charge_h
            tr.charging_cost += p.charge_cost
            tr.arrival_soc[n_star] = s
            tr.delivered += float(self._mess_kwh(n_star)) * DELIVERY_FRACTION
            # DM step over the sites of L not yet visited by DM (L taken before the CO removal)
            cand = [n for n in L if n not in visited_dm]
            if cand:
                nd = cand[_first_min([self.d(dm[-1], n) for n in cand])]
                dist = self.d(dm[-1], nd)
                tt = self.tau(dist, v, t_d)
                s2 = self.soc_after(s_d, dm[-1], nd, v)
                op = self.c_op(dist, tt, v)
                dg = max(0.0, self.deg(s_d, s2, t_d, T + tt, self.A))
                tr.dm_deg += dg
                tr.dm_cost += op + dg
                dm.append(nd)
                t_d += tt + SERVICE_H
                s_d = s2
                visited_dm.add(nd)
            L.remove(n_star)
        # CO return (forced via a charger)
        p = self.path(v, co[-1], dep, t, s, True)
        co.extend(p.route[1:])
        tr.co_cost += p.cost
        tr.co_deg += max(0.0, p.cost - self.c_op(p.km, p.elapsed, v))
        t += max(0.0, p.elapsed)
        tr.charging_h += p.charge_h
        tr.charging_cost += p.charge_cost
        # CO old MESS from the second-to-last node of the CO route; its charging time counted twice in t
        om = self.old_mess(v, co[-2], t)
        tr.old_charger = om.route[1]
        tr.co_cost += om.cost
        tr.co_deg += max(0.0, om.degradation)
        t += max(0.0, om.elapsed + om.charge_h)
        tr.charging_cost += om.charge_cost
        tr.charging_h += om.charge_h
        # DM return (not forced) and DM old MESS
        p = self.path(v, dm[-1], dep, t_d, s_d, False)
        dm.extend(p.route[1:])
        tr.dm_cost += p.cost
        t_d += p.elapsed
        tr.dm_deg += max(0.0, p.cost - self.c_op(p.km, p.elapsed, v))
        om = self.old_mess(v, dm[-2], t_d)
        tr.dm_cost += om.cost
        tr.dm_deg += max(0.0, om.degradation)
        # reported quantities
        tr.co_route, tr.dm_route = co, dm
        tr.finish = t
        tr.co_km = self.route_km(co)
        tr.dm_km = self.route_km(dm)
        tr.operational = self.c_op(tr.co_km, t - T, v)
        tr.throughput_after = self.A
        return tr

    def _mess_kwh(self, site: NodeId) -> float:
        sites = self.case.sites
        return float(sites.loc[sites["node"] == site, "mess_kwh"].iloc[0])


def _first_min(values: Sequence[float]) -> int:
    """Index of the first minimum (Python ``min`` semantics: NaN never replaces a value)."""
    best = 0
    for i in range(1, len(values)):
        if values[i] < values[best]:
            best = i
    return best


# ------------------------------------------------------------------------------------------------------------
# public entry point
# ------------------------------------------------------------------------------------------------------------
def _scale(case: MessCase) -> str:
    name = case.name.lower()
    if "large" in name:
        return "large"
    if "small" in name:
        return "small"
    return "large" if len(case.nodes) > 7 else "small"


def _vehicles(case: MessCase) -> list[Vehicle]:
    out: list[Vehicle] = []
    for i, row in case.trucks.reset_index(drop=True).iterrows():
        for c in ("flat_kwh_per_km", "aux_kwh_per_leg"):
            if not np.isfinite(float(row[c])):
                raise CaseError(f"type {row['type']}: {c} is required by the prototype replay",
                                file="trucks.csv", row=int(str(i)) + 1, field=c, code="E-PARAM")
        tp = TruckParams.from_row(row)
        for vid in parse_ids(str(row["ids"])):
            try:
                iid = int(vid)
            except (TypeError, ValueError):
                raise CaseError(f"truck id '{vid}' is not an integer (the prototype numbers vehicles)",
                                file="trucks.csv", row=int(str(i)) + 1, field="ids", code="E-PARAM") from None
            out.append(Vehicle(iid, str(row["type"]), tp, float(row["wage_per_h"])))
    out.sort(key=lambda x: x.id)
    return out


def replay(case: MessCase | str | Path, model: str = "m3", *, noise_seed: int | None = None,
           da_seed: int | None = None, da_series: Sequence[float] | None = None,
           include_rt: bool | None = None) -> ReplayResult:
    """Replay the Co-OPT MESS prototype's working day on ``case`` (mess.md Appendix B).

    Parameters
    ----------
    case
        A :class:`MessCase` or a built-in name / case folder (``"mess-small"``, ``"mess-large"``).
    model
        ``"m3"`` (generalised DoD, φ = 1), ``"m1"`` (the prototype's current "Model 1", which runs the Model 3
        code), ``"m2"`` (LFP preset, φ = 0.1) or ``"nmc-hist"`` (historical NMC Model 1, φ = 0.1).
    noise_seed
        ``None`` (default): no energy noise. Else ε ~ N(0, 0.01) kWh per energy evaluation from
        ``numpy.random.default_rng(noise_seed)``.
    da_seed, da_series
        Day-ahead price as §5.2: ``da_series`` (24 values, ¢/kWh) wins over ``da_seed``
        (0.6·U(30, 60) with ``default_rng(da_seed)``); default 27 ¢/kWh every hour.
    include_rt
        Add the ΔRT term; ``None`` = the prototype's setting per model and scale (m1/m3: small on, large off;
        m2: small off, large on; nmc-hist: on).

    Returns
    -------
    ReplayResult
        Per-vehicle table, totals (B.7), trips, dispatch events, site SoC trace and the price table.

    Raises
    ------
    CaseError
        Unknown model, a bad DA series, or a case the prototype cannot run (no charger, a charger bus the
        prototype price model does not know, trucks without ``flat_kwh_per_km``/``aux_kwh_per_leg``).
    """
    key = str(model).strip().lower()
    if key not in MODELS:
        raise CaseError(f"unknown replay model '{model}' (expected one of {', '.join(MODELS)})", field="model",
                        code="E-PARAM")
    if not isinstance(case, MessCase):
        case = load_mess_case(case)
    preset, phi, rt_small, rt_large, uses_a = MODELS[key]
    scale = _scale(case)
    rt = (rt_large if scale == "large" else rt_small) if include_rt is None else bool(include_rt)
    da = da_cents(27.0, da_series, da_seed)
    provider = PrototypePriceProvider(da, include_rt=rt)
    if len(case.chargers) == 0:
        raise CaseError("the prototype replay needs at least one charger", file="chargers.csv", code="E-ROLE")
    buses = {n: str(b) for n, b in zip(case.chargers["node"], case.chargers["bus"], strict=True)}
    hours = np.arange(24)
    price_cents = {b: np.asarray(provider.cents(b, hours), dtype=float) for b in sorted(set(buses.values()))}
    sim = _Replay(case, phi=phi, preset=preset, uses_a=uses_a, buses=buses, price_cents=price_cents,
                  noise_seed=noise_seed)
    vehicles = _vehicles(case)
    if not vehicles:
        raise CaseError("no trucks", file="trucks.csv", code="E-FLEET")

    # -- B.6 day ------------------------------------------------------------------------------------------
    sites = case.sites.reset_index(drop=True)
    site_ids: list[NodeId] = list(sites["node"])
    site_soc = {n: 100.0 * float(sc) for n, sc in zip(sites["node"], sites["soc_init"], strict=True)}
    present_kwh = {n: float(k) * float(sc) for n, k, sc in zip(sites["node"], sites["mess_kwh"], sites["soc_init"],
                                                               strict=True)}
    idle_kw = {n: float(x) for n, x in zip(sites["node"], sites["idle_kw"], strict=True)}
    mess_kwh = {n: float(k) for n, k in zip(sites["node"], sites["mess_kwh"], strict=True)}
    exc = case.excavators.reset_index(drop=True)
    ex_by_site: dict[NodeId, list[int]] = {n: [] for n in site_ids}
    for i, s in enumerate(exc["site"]):
        if s in ex_by_site:
            ex_by_site[s].append(i)
    ex_b = exc["battery_kwh"].to_numpy(float)
    ex_c = exc["consumption_kwh_per_h"].to_numpy(float)
    ex_p = exc["charge_kw"].to_numpy(float)
    ex_trig = 100.0 * exc["trigger_soc"].to_numpy(float)
    ex_tgt = 100.0 * exc["target_soc"].to_numpy(float)
    ex_soc = 100.0 * exc["soc_init"].to_numpy(float)

    used: set[int] = set()
    trips: list[_Trip] = []
    soc_rows: list[tuple[float, NodeId, float, bool]] = []
    event_rows: list[dict[str, Any]] = []
    dt = DAY_STEP
    n_steps = int(round((DAY_END - DAY_START) / dt))
    for k in range(n_steps):
        t = DAY_START + k * dt
        needing: list[NodeId] = []
        for n in site_ids:
            start_soc = site_soc[n]
            total = 0.0
            for j in ex_by_site[n]:
                new = max(0.0, ex_soc[j] - ex_c[j] * dt / ex_b[j] * 100.0)
                ex_soc[j] = new
                if new <= ex_trig[j]:
                    need = (ex_tgt[j] / 100.0 - new / 100.0) * ex_b[j]
                    if start_soc > SITE_THRESHOLD:
                        e = min(need, ex_p[j] * dt)
                        ex_soc[j] = min(ex_tgt[j], new + e / ex_b[j] * 100.0)
                        total += e
            if total > 0:
                site_soc[n] = max(0.0, site_soc[n] - total / present_kwh[n] * 100.0)
            else:
                site_soc[n] = max(0.0, site_soc[n] - idle_kw[n] * dt / present_kwh[n] * 100.0)
            flag = site_soc[n] <= SITE_THRESHOLD
            soc_rows.append((t, n, site_soc[n], flag))
            if flag:
                needing.append(n)
        if needing and (t % ASSIGNMENT_WINDOW_H) < dt:
            avail = [v for v in vehicles if v.id not in used]
            if not avail:
                avail = list(vehicles)
                used.clear()
            order = sorted(needing, key=lambda n: site_soc[n])
            assign: dict[int, list[NodeId]] = {}
            for i, n in enumerate(order):
                vid = avail[i].id if i < len(avail) else None
                event_rows.append({"time": t, "site": n, "soc": site_soc[n], "vehicle": vid})
                if vid is not None and mess_kwh[n] <= avail[i].q:
                    assign[vid] = [n]
                    used.add(vid)
            new_trips = [sim.trip(v, t, assign[v.id]) for v in vehicles if v.id in assign]
            for tr in new_trips:
                for n, s_arr in tr.arrival_soc.items():
                    site_soc[n] = s_arr
            trips.extend(new_trips)

    return _result(case, key, scale, sim, trips, soc_rows, event_rows, price_cents,
                   {"noise_seed": noise_seed, "da_seed": da_seed,
                    "da_series": None if da_series is None else [float(x) for x in da_series],
                    "include_rt": rt, "phi": phi, "preset": preset})


def _route_str(route: Sequence[NodeId]) -> str:
    return " -> ".join(str(n) for n in route)


def _result(case: MessCase, model: str, scale: str, sim: _Replay, trips: list[_Trip],
            soc_rows: list[tuple[float, NodeId, float, bool]], event_rows: list[dict[str, Any]],
            price_cents: dict[str, np.ndarray], options: dict[str, Any]) -> ReplayResult:
    trip_df = pd.DataFrame([{
        "vehicle": tr.vehicle.id, "type": tr.vehicle.type, "dispatch_h": tr.dispatch,
        "sites": ",".join(map(str, tr.sites)), "co_route": _route_str(tr.co_route),
        "dm_route": _route_str(tr.dm_route), "co_km": tr.co_km, "dm_km": tr.dm_km, "co_cost": tr.co_cost,
        "dm_cost": tr.dm_cost, "finish_h": tr.finish, "delivered_kwh": tr.delivered,
        "operational": tr.operational, "co_degradation": tr.co_deg, "dm_degradation": tr.dm_deg,
        "charging_cost": tr.charging_cost, "charging_min": 60.0 * tr.charging_h,
        "old_mess_charger": tr.old_charger,
        "arrival_soc": ";".join(f"{n}:{s:.6f}" for n, s in tr.arrival_soc.items()),
        "throughput_after_kwh": tr.throughput_after,
    } for tr in trips])
    if trip_df.empty:
        trip_df = pd.DataFrame(columns=[*VEHICLE_COLUMNS, "old_mess_charger", "arrival_soc",
                                        "throughput_after_kwh"])
    rows: list[dict[str, Any]] = []
    if not trip_df.empty:
        for vid in sorted(trip_df["vehicle"].unique()):
            g = trip_df[trip_df["vehicle"] == vid]
            rows.append({
                "vehicle": int(vid), "type": g["type"].iloc[0], "trips": len(g),
                "dispatch_h": float(g["dispatch_h"].iloc[0]),
                "sites": ",".join(g["sites"]),
                "co_route": " | ".join(g["co_route"]), "dm_route": " | ".join(g["dm_route"]),
                **{c: float(g[c].sum()) for c in ("co_km", "dm_km", "co_cost", "dm_cost", "delivered_kwh",
                                                   "operational", "co_degradation", "dm_degradation",
                                                   "charging_cost", "charging_min")},
                "finish_h": float(g["finish_h"].iloc[-1]),
            })
    veh = pd.DataFrame(rows, columns=VEHICLE_COLUMNS)
    op = float(veh["operational"].sum()) if len(veh) else 0.0
    dg = float(veh["co_degradation"].sum()) if len(veh) else 0.0
    ch = float(veh["charging_cost"].sum()) if len(veh) else 0.0
    totals = pd.DataFrame([{
        "trips": len(trips),
        "co_km": float(veh["co_km"].sum()) if len(veh) else 0.0,
        "dm_km": float(veh["dm_km"].sum()) if len(veh) else 0.0,
        "co_cost": float(veh["co_cost"].sum()) if len(veh) else 0.0,
        "dm_cost": float(veh["dm_cost"].sum()) if len(veh) else 0.0,
        "operational": op, "degradation": dg, "system": op + dg,
        "energy_delivered_kwh": float(veh["delivered_kwh"].sum()) if len(veh) else 0.0,
        "charging": ch, "total_incl_charging": op + dg + ch,
    }], columns=TOTAL_COLUMNS)
    soc_df = pd.DataFrame(soc_rows, columns=["time", "site", "soc", "needs_replacement"])
    ev_df = pd.DataFrame(event_rows, columns=["time", "site", "soc", "vehicle"])
    lmp = pd.DataFrame([{"bus": b, "hour": h, "cents": float(v[h])} for b, v in price_cents.items()
                        for h in range(24)])
    return ReplayResult(case.name, model, scale, options, veh, totals, trip_df, ev_df, soc_df, lmp)
