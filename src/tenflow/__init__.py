"""tenflow — co-optimisation of electrified transportation and electric power networks.

Two capabilities share one engine:

* **OMTEPF** — optimal multi-modal transportation and electric power flow (hetero-functional graph model,
  IV-AC optimal power flow, coordinated vs uncoordinated operation).
* **MESS** — mobile energy storage routing and scheduling, solved exactly by dynamic programming.
"""

from __future__ import annotations

from tenflow.errors import CaseError, InfeasibleError, SolverError, TenflowError

__version__ = "0.1.0"

from tenflow import cases  # noqa: E402
from tenflow.case import Case, load_case  # noqa: E402
from tenflow.hfgt import build_nets  # noqa: E402

__all__ = ["CaseError", "InfeasibleError", "SolverError", "TenflowError", "__version__"]
__all__ += ["Case", "build_nets", "cases", "load_case"]
