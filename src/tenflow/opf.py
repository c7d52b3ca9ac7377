"""Public OPF API: ``tenflow.opf.solve(case, ...)``, ``tenflow.opf.bus_prices(case, ...)``.

Multi-period convex IV-AC optimal power flow of omtepf.md §3.6–3.8/§3.10 (see
:mod:`tenflow.problems.opf`), with locational marginal prices per unit of active power (mess.md §5.3).
"""

from __future__ import annotations

from tenflow.formulations.grid_data import GridData, grid_from_case
from tenflow.problems.opf import (
    OPFResult,
    build_opf,
    bus_prices,
    diagnose_infeasibility,
    load_grid,
    scan_opf,
    solve,
)

__all__ = ["GridData", "OPFResult", "build_opf", "bus_prices", "diagnose_infeasibility", "grid_from_case",
           "load_grid", "scan_opf", "solve"]
