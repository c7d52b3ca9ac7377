"""Traffic and travel time (mess.md §3.3).

* ``fifo`` (product): speed on zone z at clock time t is v·f(z, seg(t)); the truck traverses the zone
  pieces in order and, whenever a time-segment boundary is reached inside a piece, continues the rest of
  the piece at the new speed (piecewise-constant speeds; FIFO, Ichoua et al. 2003).
* ``prototype``: the segment is chosen once from the leg's start time, τ = Σ d_z/(v·f_z(seg(t₀))).
* ``none``: constant speed v.

:func:`drive` returns the driven sub-pieces ``(zone, km, hours, speed_kmh)`` in order; physics computes
energy piece by piece at the speed actually driven.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tenflow.errors import CaseError
from tenflow.mess.case import MessCase

_EPS = 1e-12


@dataclass(frozen=True)
class TrafficModel:
    """Time segments and speed factors of a case.

    Attributes
    ----------
    model
        ``"fifo"``, ``"prototype"`` or ``"none"``.
    segments
        ``[(name, start_h, end_h), ...]`` (interval [start, end)).
    default_segment
        Name of the segment covering all other times.
    factors
        ``{(zone, segment): factor}``.
    """

    model: str
    segments: tuple[tuple[str, float, float], ...]
    default_segment: str | None
    factors: dict[tuple[int, str], float]

    @classmethod
    def from_case(cls, case: MessCase) -> TrafficModel:
        tr = case.config["traffic"]
        segs = tuple((s["name"], float(s["start"]), float(s["end"])) for s in tr.get("segments") or [])
        sf = case.speed_factors
        factors = {(int(z), str(s)): float(f) for z, s, f in zip(sf["zone"], sf["segment"], sf["factor"],
                                                                  strict=True)}
        return cls(str(tr["model"]), segs, tr.get("default_segment"), factors)

    def segment(self, t: float) -> str:
        """Name of the time segment containing clock time ``t`` (hours)."""
        for name, a, b in self.segments:
            if a <= t < b:
                return name
        if self.default_segment is None:
            raise CaseError(f"no time segment covers {t:g} h and traffic.default_segment is not set",
                            file="case.toml", field="traffic.default_segment", code="E-PARAM")
        return self.default_segment

    def next_boundary(self, t: float) -> float:
        """First segment boundary strictly after ``t`` (``inf`` if none)."""
        b = math.inf
        for _, a, e in self.segments:
            if a > t + _EPS:
                b = min(b, a)
            if e > t + _EPS:
                b = min(b, e)
        return b

    def factor(self, zone: int, t: float) -> float:
        if self.model == "none":
            return 1.0
        seg = self.segment(t)
        try:
            return self.factors[(int(zone), seg)]
        except KeyError:
            raise CaseError(f"no speed factor for zone {zone}, segment '{seg}'", file="speed_factors.csv",
                            code="E-PARAM") from None


def drive(tm: TrafficModel, pieces: list[tuple[int, float]], v_kmh: float,
          depart_h: float) -> list[tuple[int, float, float, float]]:
    """Drive the zone ``pieces`` ``[(zone, km), ...]`` at base speed ``v_kmh`` departing at ``depart_h``.

    Returns
    -------
    list of (zone, km, hours, speed_kmh)
        Sub-pieces of constant speed in driving order (a zone piece is split at segment boundaries under
        ``fifo``).
    """
    out: list[tuple[int, float, float, float]] = []
    t = float(depart_h)
    if tm.model in ("none", "prototype"):
        seg_t = t
        for z, km in pieces:
            v = v_kmh * (1.0 if tm.model == "none" else tm.factor(z, seg_t))
            h = km / v
            out.append((z, km, h, v))
            t += h
        return out
    if tm.model != "fifo":
        raise CaseError(f"traffic.model = '{tm.model}'", file="case.toml", field="traffic.model", code="E-PARAM")
    for z, km in pieces:
        rem = float(km)
        while rem > 0:
            v = v_kmh * tm.factor(z, t)
            b = tm.next_boundary(t)
            h_full = rem / v
            if t + h_full <= b:
                out.append((z, rem, h_full, v))
                t += h_full
                rem = 0.0
            else:
                h = b - t
                d = v * h
                if d >= rem:  # numerical guard
                    d, h = rem, h_full
                out.append((z, d, h, v))
                rem -= d
                t = b
    return out


def travel_time(case: MessCase, v_kmh: float, pieces: list[tuple[int, float]], depart_h: float | np.ndarray
                ) -> float | np.ndarray:
    """Travel time τ (hours) of zone ``pieces`` at base speed ``v_kmh``; ``depart_h`` may be an array."""
    tm = TrafficModel.from_case(case)
    if np.ndim(depart_h) == 0:
        return float(sum(p[2] for p in drive(tm, pieces, v_kmh, float(depart_h))))  # type: ignore[arg-type]
    dep = np.asarray(depart_h, dtype=float)
    return np.array([sum(p[2] for p in drive(tm, pieces, v_kmh, float(t))) for t in dep.ravel()]).reshape(dep.shape)
