"""Shared, cached optimiser runs for the MESS cross-check tests (one solve per case × model per test session)."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from tenflow.mess.case import load_mess_case
from tenflow.mess.evaluate import EvalContext, evaluate
from tenflow.mess.runner import apply_options


@functools.cache
def solved(case_name: str, model: str | None = None, preset: str | None = None) -> tuple[Any, Any, Any, Any]:
    """(case, MessResult, Evaluation of the optimised plan, EvalContext); skips if the optimiser is not built."""
    try:
        from tenflow.mess.optimize import solve
    except ImportError as exc:  # pragma: no cover - transitional
        pytest.skip(f"optimiser not available: {exc}")
    case, m = apply_options(load_mess_case(case_name), preset=preset, degradation=model)
    try:
        res = solve(case, degradation=m, time_limit=300)
    except ImportError as exc:  # pragma: no cover - transitional
        pytest.skip(f"optimiser not complete: {exc}")
    ctx = EvalContext(case, m)
    ev = evaluate(case, res.plan, ctx=ctx) if res.plan is not None and len(res.plan.trips) else None
    return case, res, ev, ctx
