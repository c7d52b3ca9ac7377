"""Vehicle energy models (mess.md §3.1 truck model, §3.2 prototype preset) and legs along arcs.

A leg ``frm→to`` (one arc) departing at clock time ``depart_h`` is split into pieces of constant zone,
time segment and speed (:mod:`tenflow.mess.traffic`); the battery energy of each piece is

* ``truck`` (§3.1): F = m·g·c_rr·cos θ + ½ρC_dA(v/3.6)² + m·g·sin θ, θ = atan(γ/100);
  F ≥ 0: E = F·d/(3600·η_drive) + P_aux·d/v; F < 0: E = −min(η_regen·|F|·v/3600, P_regen,max)·d/v + P_aux·d/v;
* ``prototype`` (§3.2): E = φ·e_k·d + (m·g·sin(γ/100)/3600)·d with g = 9.8 (γ/100 used as an angle in
  radians), plus a_k once per leg (added to the first piece).

Truck speed on a piece = min(speed_kmh, free_speed_kmh) × zone factor. Positive energy = drawn from the pack.
The SoC cap at ``soc_max`` is applied when integrating along the leg (:meth:`Leg.integrate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tenflow.errors import CaseError
from tenflow.mess.case import MessCase, NodeId, parse_zone_km
from tenflow.mess.traffic import TrafficModel, drive

G_PROTOTYPE = 9.8


@dataclass(frozen=True)
class TruckParams:
    """Physical parameters of one truck type (trucks.csv, §2.3)."""

    type: str
    mess_kwh: float
    speed_kmh: float
    mass_kg: float
    soc_min: float
    soc_max: float
    crr: float
    cda_m2: float
    eta_drive: float
    eta_regen: float
    p_aux_kw: float
    p_regen_max_kw: float
    flat_kwh_per_km: float
    aux_kwh_per_leg: float

    @classmethod
    def from_row(cls, row: Any) -> TruckParams:
        vals: dict[str, Any] = {f: (str(row[f]) if f == "type" else float(row[f])) for f in cls.__dataclass_fields__}
        return cls(**vals)


def default_truck(**overrides: float) -> TruckParams:
    """The §3.1 default 50 t battery truck (c_rr 0.006, C_dA 6, η 0.90/0.60, P_aux 3 kW, P_regen 250 kW)."""
    base: dict[str, Any] = dict(type="default", mess_kwh=350.0, speed_kmh=50.0, mass_kg=50000.0, soc_min=0.05,
                                soc_max=1.0, crr=0.006, cda_m2=6.0, eta_drive=0.90, eta_regen=0.60, p_aux_kw=3.0,
                                p_regen_max_kw=250.0, flat_kwh_per_km=math.nan, aux_kwh_per_leg=0.0)
    base.update(overrides)
    return TruckParams(**base)


def truck_energy_kwh(tp: TruckParams, km: np.ndarray | float, v_kmh: np.ndarray | float,
                     grade_pct: np.ndarray | float, *, g: float = 9.81, rho_air: float = 1.2) -> np.ndarray:
    """Battery energy (kWh, >0 drawn) of pieces driven at constant speed — §3.1 truck model (vectorised)."""
    d = np.asarray(km, dtype=float)
    v = np.asarray(v_kmh, dtype=float)
    theta = np.arctan(np.asarray(grade_pct, dtype=float) / 100.0)
    m = tp.mass_kg
    force = m * g * tp.crr * np.cos(theta) + 0.5 * rho_air * tp.cda_m2 * (v / 3.6) ** 2 + m * g * np.sin(theta)
    hours = d / v
    aux = tp.p_aux_kw * hours
    traction = force * d / (3600.0 * tp.eta_drive)
    regen = -np.minimum(tp.eta_regen * np.abs(force) * v / 3600.0, tp.p_regen_max_kw) * hours
    return np.where(force >= 0, traction, regen) + aux


def prototype_energy_kwh(tp: TruckParams, km: np.ndarray | float, grade_pct: np.ndarray | float, *,
                         phi: float = 1.0) -> np.ndarray:
    """§3.2 prototype energy of pieces, *without* the per-leg a_k: φ·e_k·d + m·g·sin(γ/100)/3600·d."""
    d = np.asarray(km, dtype=float)
    return phi * tp.flat_kwh_per_km * d + tp.mass_kg * G_PROTOTYPE * np.sin(np.asarray(grade_pct) / 100.0) / 3600.0 * d


@dataclass(frozen=True)
class Leg:
    """One arc driven by one truck type from a departure time.

    Attributes
    ----------
    duration_h, energy_kwh, km
        Totals (energy > 0 drawn from the pack, < 0 regenerated; before any SoC cap).
    pieces
        Array ``(n, 3)`` of ``(km, hours, kwh)`` per constant-speed piece in driving order.
    speeds_kmh, zones
        Speed and zone of each piece.
    feasible_from_full
        Starting at ``soc_max``, the pack (capped at ``soc_max``) never drops below ``soc_min``.
    """

    duration_h: float
    energy_kwh: float
    km: float
    pieces: np.ndarray
    speeds_kmh: np.ndarray
    zones: np.ndarray
    feasible_from_full: bool
    e_min_kwh: float
    e_max_kwh: float

    def integrate(self, e0_kwh: np.ndarray | float, cap_kwh: float | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Pack energy along the leg from ``e0_kwh`` (array allowed) with the cap (default ``soc_max``).

        Returns ``(e_end, e_lowest)``: the energy at the end and the lowest energy along the leg (energy is
        linear within a piece, so the lowest value is at a piece end or the start).
        """
        cap = self.e_max_kwh if cap_kwh is None else float(cap_kwh)
        e = np.minimum(np.asarray(e0_kwh, dtype=float), cap)
        low = e.copy()
        for kwh in self.pieces[:, 2]:
            e = np.minimum(cap, e - kwh)
            low = np.minimum(low, e)
        return e, low


    def level_map(self, delta_kwh: float, q_min: int, n_levels: int, eps: float = 1e-9) -> np.ndarray:
        """SoC-level transition of the leg on the bucket grid (mess.md §6.1 rule 1, travel arcs).

        For start levels q = 0 … n_levels−1 (energy q·δ) the pack is integrated exactly along the leg with
        the ``soc_max`` cap; the arc is feasible iff the energy never drops below q_min·δ; the end level is
        q' = ⌊E_end/δ + ε⌋. Returns an int array (−1 = infeasible).
        """
        e0 = np.arange(n_levels, dtype=float) * delta_kwh
        end, low = self.integrate(e0)
        q = np.floor(end / delta_kwh + eps).astype(np.int64)
        ok = (low >= q_min * delta_kwh - eps) & (e0 <= self.e_max_kwh + eps)
        return np.where(ok, q, -1)


class LegModel:
    """Precomputed arc, truck and traffic data of a case; :meth:`leg` is cheap to call many times."""

    def __init__(self, case: MessCase) -> None:
        self.case = case
        cfg = case.config
        self.physics = str(cfg["physics"]["model"])
        self.g = float(cfg["physics"]["g"])
        self.rho = float(cfg["physics"]["rho_air"])
        self.phi = float(cfg["physics"]["prototype_phi"])
        self.traffic = TrafficModel.from_case(case)
        dz = int(cfg["traffic"]["default_zone"])
        self.arcs: dict[tuple[NodeId, NodeId], tuple[list[tuple[int, float]], float, float, float]] = {}
        for a, b, d, gr, z, fs in zip(case.arcs["from"], case.arcs["to"], case.arcs["length_km"],
                                      case.arcs["grade_pct"], case.arcs["zone_km"], case.arcs["free_speed_kmh"],
                                      strict=True):
            self.arcs[(a, b)] = (parse_zone_km(z, float(d), dz), float(d), float(gr), float(fs))
        tt = case.truck_types()
        self.trucks = {str(r["type"]): TruckParams.from_row(r) for _, r in tt.iterrows()}
        # legs that stay inside one time segment do not depend on the exact departure time
        self._cache: dict[tuple[str, NodeId, NodeId, str], Leg] = {}

    def truck(self, truck_type: str) -> TruckParams:
        try:
            return self.trucks[str(truck_type)]
        except KeyError:
            raise CaseError(f"unknown truck type '{truck_type}' (types: {', '.join(self.trucks)})",
                            file="trucks.csv", field="type", code="E-FLEET") from None

    def leg(self, truck_type: str, frm: NodeId, to: NodeId, depart_h: float) -> Leg:
        """Drive arc ``frm→to`` with ``truck_type`` departing at ``depart_h`` (clock hours).

        Legs that stay inside one time segment are identical for every departure in that segment
        (``prototype``/``none`` traffic: always) and are served from a cache.
        """
        t = float(depart_h)
        seg = self.traffic.segment(t) if self.traffic.model != "none" else ""
        key = (str(truck_type), frm, to, seg)
        hit = self._cache.get(key)
        if hit is not None and (self.traffic.model != "fifo" or t + hit.duration_h <= self.traffic.next_boundary(t)):
            return hit
        out = self._leg(truck_type, frm, to, t)
        if self.traffic.model != "fifo" or t + out.duration_h <= self.traffic.next_boundary(t):
            self._cache[key] = out
        return out

    def _leg(self, truck_type: str, frm: NodeId, to: NodeId, depart_h: float) -> Leg:
        tp = self.truck(truck_type)
        try:
            pieces, length, grade, free = self.arcs[(frm, to)]
        except KeyError:
            raise CaseError(f"no arc {frm}→{to}", file="arcs.csv", code="E-NODE-UNKNOWN") from None
        v0 = min(tp.speed_kmh, free)
        driven = drive(self.traffic, pieces, v0, float(depart_h))
        zones = np.array([p[0] for p in driven], dtype=np.int64)
        km = np.array([p[1] for p in driven], dtype=float)
        hours = np.array([p[2] for p in driven], dtype=float)
        speed = np.array([p[3] for p in driven], dtype=float)
        if self.physics == "prototype":
            kwh = prototype_energy_kwh(tp, km, grade, phi=self.phi)
            if len(kwh):
                kwh[0] += tp.aux_kwh_per_leg
        else:
            kwh = truck_energy_kwh(tp, km, speed, grade, g=self.g, rho_air=self.rho)
        arr = np.column_stack([km, hours, kwh]) if len(km) else np.zeros((0, 3))
        q = tp.mess_kwh
        e_min, e_max = tp.soc_min * q, tp.soc_max * q
        leg = Leg(float(hours.sum()), float(kwh.sum()), float(length), arr, speed, zones, True, e_min, e_max)
        _, low = leg.integrate(e_max)
        ok = bool(float(low) >= e_min - 1e-9)
        for a in (arr, speed, zones):
            a.setflags(write=False)
        return Leg(leg.duration_h, leg.energy_kwh, leg.km, arr, speed, zones, ok, e_min, e_max)


def leg(case: MessCase, truck_type: str, frm: NodeId, to: NodeId, depart_h: float) -> Leg:
    """One leg ``frm→to`` of ``truck_type`` departing at ``depart_h`` (mess.md §3.1–§3.3).

    For many legs of one case build a :class:`LegModel` once and call :meth:`LegModel.leg`.
    """
    return LegModel(case).leg(truck_type, frm, to, depart_h)
