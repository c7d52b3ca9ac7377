"""Baselines ``nearest`` and ``shortest`` (mess.md §6.5): feasible in P_Δ (all §9 invariants), just in time, route
rules, k-shortest path order against networkx, clear reasons when a site cannot be served."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from tenflow.errors import TenflowError
from tenflow.mess.baselines import _simple_paths, run_baseline
from tenflow.mess.case import load_mess_case
from tenflow.mess.checks import check_plan
from tenflow.mess.demand import site_demand
from tenflow.mess.evaluate import EvalContext, evaluate

MODELS = ("nmc", "lfp", "generalized")


@pytest.fixture(scope="module")
def small():  # type: ignore[no-untyped-def]
    return load_mess_case("mess-small")


@pytest.fixture(scope="module")
def small_plans(small):  # type: ignore[no-untyped-def]
    out = {}
    for model in MODELS:
        ctx = EvalContext(small, model)
        for method in ("nearest", "shortest"):
            r = run_baseline(small, method, ctx=ctx)
            out[(model, method)] = (r, evaluate(small, r.plan, ctx=ctx))
    return out


@pytest.mark.parametrize("model,method", list(itertools.product(MODELS, ("nearest", "shortest"))))
def test_small_feasible_and_invariants(small_plans, model, method) -> None:  # type: ignore[no-untyped-def]
    r, ev = small_plans[(model, method)]
    assert r.status == "feasible", r.reason
    assert len(r.plan.trips) > 0
    assert check_plan(ev) == []
    assert np.isfinite(ev.total) and ev.total > 0


@pytest.mark.parametrize("method", ["nearest", "shortest"])
def test_just_in_time(small, small_plans, method) -> None:  # type: ignore[no-untyped-def]
    """Every swap completes at the last grid step before the removed pack would cross its reserve, or one step
    earlier (travel-time rounding of the latest start); the deadline is recomputed here from the demand module."""
    _, ev = small_plans[("nmc", method)]
    start, dt = small.horizon[0], small.config["time"]["step_min"] / 60
    for _, p in ev.site_periods.iterrows():
        if p["j_remove"] < 0:
            continue
        site = int(p["site"])
        s = small.sites.set_index("node").loc[site]
        dem = site_demand(small, site)
        j = np.arange(int(p["j_install"]), 229)
        e = p["e_install"] - (dem.D(start + j * dt) - dem.D(start + p["j_install"] * dt))
        ok = (e >= s["reserve_soc"] * s["mess_kwh"] - 1e-7) & (start + j * dt <= s["window_end"] + 1e-9)
        deadline = int(j[ok][-1])
        assert deadline - 1 <= p["j_remove"] <= deadline, (site, p["j_remove"], deadline)


def test_nearest_route_rules(small, small_plans) -> None:  # type: ignore[no-untyped-def]
    _, ev = small_plans[("nmc", "nearest")]
    chargers = set(small.chargers["node"])
    for _, g in ev.arcs.groupby("trip"):
        trv = g[g["kind"] == "travel"]
        path = [trv["frm"].iloc[0], *trv["to"]]
        sw = g.index[g["kind"] == "swap"][0]
        out = [trv["frm"].iloc[0], *trv.loc[:sw, "to"]]
        back = path[len(out) - 1:]
        assert len(out) in (2, 3) and len(back) in (2, 3)
        for half in (out, back):
            if len(half) == 3:
                assert half[1] in chargers
        # charging at an en-route charger stops at charge_to = 0.90 (level 90)
        ch = g[(g["kind"] == "charge") & (g["charger"] != "depot")]
        for _, grp in ch.groupby("frm"):
            assert grp["q_to"].iloc[-1] == 90
        # the trip ends at the depot at exactly q_dep (charged up to s_dep) or above it without depot charging
        assert g["q_to"].iloc[-1] >= 90


def test_shortest_no_more_charging_than_needed(small_plans) -> None:  # type: ignore[no-untyped-def]
    _, ev = small_plans[("nmc", "shortest")]
    # mess-small: every shortest feasible route needs no en-route charge (0→1→2, 0→3→4, ... reach ≥ 50 %)
    assert ev.breakdown["charging"] == 0.0


@pytest.mark.parametrize("src_dst", [("0", "11"), ("0", "15"), ("14", "0"), ("0", "2")])
def test_k_shortest_paths_against_networkx(src_dst) -> None:  # type: ignore[no-untyped-def]
    case = load_mess_case("mess-large")
    ctx = EvalContext(case, "generalized")
    g = nx.DiGraph()
    for (a, b), d in ctx.arc_km.items():
        g.add_edge(a, b, weight=d)
    src, dst = src_dst
    ours = _simple_paths(ctx, src, dst, limit=50)
    ref = list(itertools.islice(nx.shortest_simple_paths(g, src, dst, weight="weight"), 200))
    km = lambda p: round(sum(ctx.arc_km[(p[i], p[i + 1])] for i in range(len(p) - 1)), 9)  # noqa: E731
    assert [km(p) for p in ours] == sorted(km(p) for p in ref)[: len(ours)]
    assert len(ours) == min(50, len(ref))
    assert len(set(ours)) == len(ours)


@pytest.mark.parametrize("method,site", [("nearest", "11"), ("shortest", "12")])
def test_large_unservable_site_is_named(method, site) -> None:  # type: ignore[no-untyped-def]
    """Under product physics mess-large has sites no baseline route can serve (0→10, 0→13 exceed a pack;
    0→12 arrives with 27 % < min_delivery_soc 50 %)."""
    case = load_mess_case("mess-large")
    r = run_baseline(case, method, "generalized")
    assert r.status == "infeasible"
    assert r.plan.status == "infeasible"
    assert f"site {site}:" in r.reason


def test_tiny_baselines_report_reason() -> None:
    r = run_baseline(load_mess_case("mess-tiny"), "shortest")
    assert r.status == "infeasible" and "site 2" in r.reason


def test_unknown_method() -> None:
    with pytest.raises(TenflowError, match="unknown baseline"):
        run_baseline(load_mess_case("mess-tiny"), "greedy")
