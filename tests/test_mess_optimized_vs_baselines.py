"""mess.md §9 check 8: the exact optimum is never more expensive than a feasible baseline under the same cost model
(both costed by the independent evaluator), on mess-small and mess-large for nmc, lfp, generalized and the
prototype presets. Infeasible baselines are excluded from the comparison (their reason must name a site)."""

from __future__ import annotations

import pytest

from tenflow.mess.baselines import run_baseline
from tenflow.mess.checks import check_plan
from tenflow.mess.evaluate import evaluate

PARAMS = [("mess-small", m, None) for m in ("nmc", "lfp", "generalized")]
PARAMS += [("mess-small", None, p) for p in ("prototype-nmc", "prototype-lfp", "prototype-generalized")]
PARAMS += [pytest.param("mess-large", m, None, marks=pytest.mark.slow) for m in ("nmc", "lfp", "generalized")]
PARAMS += [pytest.param("mess-large", None, p, marks=pytest.mark.slow)
           for p in ("prototype-nmc", "prototype-lfp", "prototype-generalized")]


@pytest.mark.parametrize("case_name,model,preset", PARAMS)
def test_optimized_not_worse_than_baselines(case_name: str, model: str | None, preset: str | None) -> None:
    from tests._mess_solved import solved

    case, res, ev, ctx = solved(case_name, model, preset)
    assert res.status == "optimal"
    for method in ("nearest", "shortest"):
        br = run_baseline(case, method, ctx=ctx)
        if br.status != "feasible":
            assert "site " in br.reason
            continue
        bev = evaluate(case, br.plan, ctx=ctx)
        assert check_plan(bev) == []
        assert ev.total <= bev.total + 1e-6, (method, ev.total, bev.total)
