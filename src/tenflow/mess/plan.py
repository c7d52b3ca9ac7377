"""The MESS plan: output of every method (optimiser and baselines) and input of the evaluator.

Shared contract (mess.md §6.1 grid conventions): grid steps ``j`` (t_j = start + j·Δ), levels ``q`` (bucket δ).

``trips``: one row per trip — trip (int, 0..), type, truck (id str), site (node id), j_start, j_arrive, j_swap_end,
j_end, q_start, q_delivered, q_removed, q_end.
``arcs``: one row per arc of a trip, in order — trip, seq, kind ('travel'|'wait'|'charge'|'swap'), frm, to (node ids;
equal for wait/charge/swap), j_from, j_to, q_from, q_to, charger (node id or 'depot' for charge arcs, else '').
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

TRIP_COLUMNS = ["trip", "type", "truck", "site", "j_start", "j_arrive", "j_swap_end", "j_end", "q_start",
                "q_delivered", "q_removed", "q_end"]
ARC_COLUMNS = ["trip", "seq", "kind", "frm", "to", "j_from", "j_to", "q_from", "q_to", "charger"]


@dataclass
class Plan:
    """A plan of trips with their arcs in the time–space–SoC graph (see module docstring)."""

    method: str  # "optimized" | "nearest" | "shortest"
    trips: pd.DataFrame
    arcs: pd.DataFrame
    status: str = "optimal"
    objective: float | None = None
    lb: float | None = None

    @staticmethod
    def empty(method: str, status: str = "optimal") -> Plan:
        return Plan(method, pd.DataFrame(columns=TRIP_COLUMNS), pd.DataFrame(columns=ARC_COLUMNS), status)
