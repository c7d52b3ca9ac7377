"""Solution object passed from the OMTEPF optimisation pipeline to the evaluator.

Both operating modes (omtepf.md §3.9: ``"uncoordinated"`` and ``"coordinated"``) return an
:class:`OmtepfSolution`; the evaluator (:mod:`tenflow.results.omtepf_eval`) computes every reported
number (Tables VIII/IX/X, time series of §6.3) from it, identically for both modes.

All tables are tidy :class:`pandas.DataFrame` objects with 0-based step index ``k``:

``firings``
    one row per *started* EV transition (``U^-[k] = 1``): ``ev, k, kind, component, origin, dest, bus,
    rate, current_re, current_im``. ``kind`` is one of ``park | road | home | com | v2g | inductive | wire``;
    ``rate`` is the net SoC change in charge units (negative for a road traversal or v2g discharge);
    ``current_re/current_im`` is the current drawn at ``bus`` during step ``k`` (injection negative);
    ``bus`` is ``None``/NaN for transitions that draw no current. The pipeline also fills an extra column
    ``charge``: gross charge units added by the firing (``rho`` of Table V; 2 for a wireless traversal even
    though its net ``rate`` is 0 under semantics A; negative = units discharged by v2g), used for ``R_C``.
``idle``
    one row per queued EV-step (``Q_{B,(v,b)}[k+1] = 1``): ``ev, k, buffer``.
``soc``
    ``ev, k, soc`` for ``k = 0..K``.
``voltages``
    ``bus, k, vr, vi`` for ``k = 0..K-1``.
``gen_currents``
    ``gen, k, ir, ii`` for ``k = 0..K-1``.
``info``
    solver, status, objective, bound, gap, timings (s), sizes, iterations (free-form dict).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

FIRING_COLUMNS: tuple[str, ...] = (
    "ev", "k", "kind", "component", "origin", "dest", "bus", "rate", "current_re", "current_im",
)
IDLE_COLUMNS: tuple[str, ...] = ("ev", "k", "buffer")
SOC_COLUMNS: tuple[str, ...] = ("ev", "k", "soc")
VOLTAGE_COLUMNS: tuple[str, ...] = ("bus", "k", "vr", "vi")
GEN_COLUMNS: tuple[str, ...] = ("gen", "k", "ir", "ii")

#: transition kinds that plug the EV in at a charger (unavailable time, omtepf.md §6.3)
PLUG_KINDS: frozenset[str] = frozenset({"home", "com", "v2g"})
#: transition kinds that move the EV along a road (driving, omtepf.md §6.3)
DRIVE_KINDS: frozenset[str] = frozenset({"road", "inductive", "wire"})


def _empty(cols: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})


@dataclass
class OmtepfSolution:
    """One OMTEPF day plan (transport, charging and grid operation), see module docstring."""

    mode: str
    case_name: str
    K: int
    firings: pd.DataFrame = field(default_factory=lambda: _empty(FIRING_COLUMNS))
    idle: pd.DataFrame = field(default_factory=lambda: _empty(IDLE_COLUMNS))
    soc: pd.DataFrame = field(default_factory=lambda: _empty(SOC_COLUMNS))
    voltages: pd.DataFrame = field(default_factory=lambda: _empty(VOLTAGE_COLUMNS))
    gen_currents: pd.DataFrame = field(default_factory=lambda: _empty(GEN_COLUMNS))
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in ("uncoordinated", "coordinated"):
            raise ValueError(f"mode must be 'uncoordinated' or 'coordinated', got {self.mode!r}")
        for name, cols in (("firings", FIRING_COLUMNS), ("idle", IDLE_COLUMNS), ("soc", SOC_COLUMNS),
                           ("voltages", VOLTAGE_COLUMNS), ("gen_currents", GEN_COLUMNS)):
            df = getattr(self, name)
            missing = [c for c in cols if c not in df.columns]
            if missing:
                raise ValueError(f"OmtepfSolution.{name} lacks columns {missing}")

    # ------------------------------------------------------------------ convenience counts
    def count(self, kind: str | frozenset[str]) -> int:
        """Number of EV firings of a kind (or set of kinds)."""
        kinds = {kind} if isinstance(kind, str) else set(kind)
        return int(self.firings["kind"].isin(kinds).sum())

    @property
    def traversals(self) -> int:
        """Road traversals incl. charge-while-driving ones (omtepf.md eq. 59)."""
        return self.count(DRIVE_KINDS)

    @property
    def queued(self) -> int:
        """Queued EV-steps (omtepf.md eq. 60)."""
        return len(self.idle)

    @property
    def charge_units(self) -> float:
        """Charge units added (charging kinds with positive rate incl. the charge part of wireless).

        Under wireless semantics A the net rate of a wireless traversal is 0 while it adds
        ``charge`` units; those are stored in ``info['wireless_charge_units']`` if set, else derived
        from column ``charge`` when present.
        """
        f = self.firings
        if "charge" in f.columns:
            return float(f["charge"].clip(lower=0).sum())
        chg = f[f["kind"].isin({"home", "com"})]
        return float(chg["rate"].sum())

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "case_name": self.case_name, "K": self.K, "info": self.info}
