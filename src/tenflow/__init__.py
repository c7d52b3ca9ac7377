"""tenflow — co-optimisation of electrified transportation and electric power networks.

Two capabilities share one engine:

* **OMTEPF** — optimal multi-modal transportation and electric power flow (hetero-functional graph model,
  IV-AC optimal power flow, coordinated vs uncoordinated operation).
* **MESS** — mobile energy storage routing and scheduling, solved exactly by dynamic programming.

Public API::

    import tenflow
    case = tenflow.load_case("path/to/case")          # or tenflow.cases.load("symmetrica-lite")
    nets = tenflow.build_nets(case, form="pruned")     # hetero-functional nets (scipy.sparse)
    res = tenflow.opf.solve(case)                      # multi-period IV-ACOPF with bus prices
    sol = tenflow.run_omtepf(case, mode="coordinated") # OMTEPF study (uncoordinated | coordinated)
    ev = tenflow.evaluate_omtepf(case, sol)            # Tables VIII-X, one evaluator for both modes
    mcase = tenflow.load_mess_case("mess-large")
    mres = tenflow.solve_mess(mcase, degradation="nmc")
"""

from __future__ import annotations

import importlib
from typing import Any

from tenflow.errors import CaseError, InfeasibleError, SolverError, TenflowError

__version__ = "0.1.0"

from tenflow import cases  # noqa: E402
from tenflow.case import Case, load_case  # noqa: E402
from tenflow.hfgt import build_nets  # noqa: E402

#: heavier entry points, imported on first use (``tenflow.<name>``)
_LAZY: dict[str, tuple[str, str | None]] = {
    "opf": ("tenflow.opf", None),
    "run_omtepf": ("tenflow.problems.omtepf", "run"),
    "evaluate_omtepf": ("tenflow.results.omtepf_eval", "evaluate"),
    "load_mess_case": ("tenflow.mess.case", "load_mess_case"),
    "MessCase": ("tenflow.mess.case", "MessCase"),
    "solve_mess": ("tenflow.mess.optimize", "solve"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        return mod if attr is None else getattr(mod, attr)
    raise AttributeError(f"module 'tenflow' has no attribute '{name}'")


__all__ = [
    "Case", "CaseError", "InfeasibleError", "MessCase", "SolverError", "TenflowError", "__version__", "build_nets",
    "cases", "evaluate_omtepf", "load_case", "load_mess_case", "opf", "run_omtepf", "solve_mess",
]
