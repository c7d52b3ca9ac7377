"""Hetero-functional graph theory nets of a case (omtepf.md §1.3–1.5, §3.2–3.4, §7).

>>> nets = tenflow.hfgt.build_nets(case, form="full")   # or "pruned"
>>> nets.M_plus.shape, nets.summary()
"""

from __future__ import annotations

from tenflow.hfgt.nets import OPERAND_ACTIONS, Nets, Resource, build_nets

__all__ = ["OPERAND_ACTIONS", "Nets", "Resource", "build_nets"]
