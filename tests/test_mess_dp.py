"""Trip and site-chain DPs of the MESS optimiser (mess.md §6.2): numba == numpy, values == recomputed costs,
discretisation of mess-tiny against the closed-form values of Appendix C."""

from __future__ import annotations

import numpy as np
import pytest

from tenflow.core import tsdp
from tenflow.mess import dp, master
from tenflow.mess.case import load_mess_case
from tenflow.mess.instance import KIND_CHARGE, KIND_TRAVEL, build_instance
from tenflow.mess.testing import random_micro


def _random_duals(inst, seed: int) -> master.Duals:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    K, J, R, S = len(inst.types), inst.n_steps, inst.n_res, inst.S
    return master.Duals(rng.normal(size=len(inst.sites)), -rng.random((K, J)) * (rng.random((K, J)) < 0.4),
                        -rng.random((R, S)) * (rng.random((R, S)) < 0.4))


@pytest.mark.parametrize("seed", range(10))
def test_chain_dp_numba_equals_numpy(seed: int) -> None:
    inst = random_micro(seed)
    d = _random_duals(inst, seed)
    for w in (1.0, 0.0):
        ta = [dp.trip_dp(inst, k, master.type_prices(inst, d, k), w, numba=True) for k in range(len(inst.types))]
        tb = [dp.trip_dp(inst, k, master.type_prices(inst, d, k), w, numba=False) for k in range(len(inst.types))]
        for x, y in zip(ta, tb, strict=True):
            assert np.array_equal(x.fw.F, y.fw.F) and np.array_equal(x.fw.pa, y.fw.pa)
            assert np.array_equal(x.bw.G, y.bw.G) and np.array_equal(x.bw.sa, y.bw.sa)
        for i in range(len(inst.sites)):
            a = dp.chain_dp(inst, i, ta, numba=True)  # type: ignore[arg-type]
            b = dp.chain_dp(inst, i, tb, numba=False)  # type: ignore[arg-type]
            assert a.value == b.value or (np.isinf(a.value) and np.isinf(b.value))
            assert (a.end_j, a.end_q) == (b.end_j, b.end_q)
            for f in ("V", "Vk", "H", "Hj", "Hq", "E"):
                assert np.array_equal(getattr(a, f), getattr(b, f)), f
            assert a.ends(5) == b.ends(5)


@pytest.mark.parametrize("seed", range(12))
def test_chain_value_equals_column_reduced_cost(seed: int) -> None:
    """The DP value of the best chain equals its cost recomputed from the arcs minus the dual terms."""
    inst = random_micro(seed)
    d = _random_duals(inst, seed)
    trips = [dp.trip_dp(inst, k, master.type_prices(inst, d, k)) for k in range(len(inst.types))]
    for i in range(len(inst.sites)):
        cd = dp.chain_dp(inst, i, trips)  # type: ignore[arg-type]
        col = dp.trace_chain(inst, cd, trips)  # type: ignore[arg-type]
        if col is None:
            assert not np.isfinite(cd.value)
            continue
        rc = master.reduced_cost(col, d) + d.pi[i]
        assert abs(rc - cd.value) < 1e-9 * max(1.0, abs(rc))
        # the chain is consistent: swaps in order, trips start at q_dep and end at >= q_dep
        for t0, t1 in zip(col.trips, col.trips[1:], strict=False):
            assert t1.ja >= t0.js
        for t in col.trips:
            ty = inst.types[t.k]
            g = ty.graph
            assert t.out[0][2] == ty.qdep and int(g.frm[t.out[0][0]]) == inst.idle
            a, j, q = t.back[-1]
            assert int(g.to[a]) == inst.depot and int(g.qmap[a, j, q]) >= ty.qdep and t.je <= ty.b


def test_mess_tiny_discretisation() -> None:
    """Appendix C: a 10 km leg is 1 step and 1 bucket, a 20 km leg 1 step and 2 buckets, a charge step ≤ 2 buckets."""
    inst = build_instance(load_mess_case("mess-tiny"))
    assert (inst.n_steps, inst.n_levels, inst.delta_kwh, inst.n_sigma) == (8, 6, 20.0, 1)
    ty = inst.types[0]
    assert (ty.qmin, ty.qmax, ty.qdep, ty.count) == (0, 5, 3, 2)
    g = ty.graph
    ids = inst.node_ids
    for a in np.nonzero(ty.kind == KIND_TRAVEL)[0]:
        u, v = int(g.frm[a]), int(g.to[a])
        if u == inst.idle:
            continue
        km = ty.km[a]
        drop = {10.0: 1, 20.0: 2}[km]
        assert np.all(g.nsteps[a, :-1] == 1)
        q = np.arange(6)
        exp = np.where(q - drop >= 0, q - drop, -1)
        assert np.array_equal(g.qmap[a, 0], exp), (ids[u], ids[v])
        # cost at q=3: km·0.41 + wage·0.5 h + generalized wear Φ(1-q'/5) - Φ(1-q/5)
        from tenflow.mess.degradation import BatteryParams, make_model

        m = make_model("generalized", BatteryParams(capacity_kwh=100.0, cost_usd=20000.0))
        wear = float(m.phi(1 - (3 - drop) / 5) - m.phi(1 - 3 / 5))
        assert abs(g.cost[a, 0, 3] - (km * 0.41 + 10.0 + wear)) < 1e-9
    ch = np.nonzero(ty.kind == KIND_CHARGE)[0]
    gains = {int(g.qmap[a, 0, 1] - 1) for a in ch if g.qmap[a, 0, 1] >= 0}
    assert gains == {1, 2}
    # charger 1 at 07:00 costs 0.30 $/kWh, at 08:00 0.50 $/kWh (+ wage 10 $ per step, no wear when charging)
    c1 = [a for a in ch if inst.charger_nodes[int(ty.charger[a])] == 1 and g.qmap[a, 0, 1] == 3]
    assert len(c1) == 1
    assert abs(g.cost[c1[0], 0, 1] - (40 * 0.30 + 10.0)) < 1e-9
    assert abs(g.cost[c1[0], 2, 1] - (40 * 0.50 + 10.0)) < 1e-9
    # site: direct policy 30 kWh/h → 15 kWh per 30-min step, initial 80 kWh
    s = inst.sites[0]
    assert np.allclose(np.diff(s.D), 15.0) and s.e0 == 80.0 and s.reserve_kwh == 20.0


def test_uncoupled_tiny_is_two_trips() -> None:
    inst = build_instance(load_mess_case("mess-tiny"))
    _trips, cds, cols = dp.solve_uncoupled(inst)
    assert cols[0] is not None and len(cols[0].trips) == 2
    assert abs(cds[0].value - 260.716919) < 1e-6
    assert abs(dp.column_cost(inst, cols[0]) - cds[0].value) < 1e-9


def test_tsdp_prices_shift_values() -> None:
    """A uniform time price p adds p per occupied step to every completed trip."""
    inst = random_micro(2)
    base = dp.trip_dp(inst, 0)
    p = 0.37
    pr = tsdp.Prices(np.full(inst.n_steps, p), np.zeros((1, inst.S)))
    td = dp.trip_dp(inst, 0, pr)
    ty = inst.types[0]
    for j in range(ty.a, inst.S):
        st = (inst.idle, j, ty.qdep)
        if np.isfinite(base.bw.G[st]):
            path = tsdp.trace_backward(td.bw, ty.graph, *st)
            a, jl, _ = path[-1]
            steps = jl + int(ty.graph.nsteps[a, jl]) - j
            assert td.bw.G[st] >= base.bw.G[st] - 1e-12
            assert abs(td.bw.G[st] - tsdp.path_cost(ty.graph, path) - p * steps) < 1e-9


@pytest.mark.parametrize("seed", range(12))
def test_extra_chain_ends_value_equals_column_reduced_cost(seed: int) -> None:
    """§6.2 step 4 extra columns: the best chain ending with the pack installed at each returned end (j, q) has the
    DP end value E[j, q] as its cost recomputed from the arcs minus the dual terms; ends are distinct steps."""
    inst = random_micro(seed)
    d = _random_duals(inst, seed)
    trips = [dp.trip_dp(inst, k, master.type_prices(inst, d, k)) for k in range(len(inst.types))]
    for i in range(len(inst.sites)):
        cd = dp.chain_dp(inst, i, trips)  # type: ignore[arg-type]
        ends = cd.ends(5)
        if not np.isfinite(cd.value):
            assert ends == []
            continue
        assert ends[0] == (cd.end_j, cd.end_q) and len({j for j, _q in ends}) == len(ends)
        assert cd.E is not None
        for j, q in ends:
            col = dp.trace_chain(inst, cd, trips, (j, q))  # type: ignore[arg-type]
            assert col is not None
            ev = cd.E[0, 0] if j == -1 else cd.E[j, q]
            rc = master.reduced_cost(col, d) + d.pi[i]
            assert abs(rc - ev) < 1e-9 * max(1.0, abs(rc))
            last = col.trips[-1] if col.trips else None
            assert (last.js, last.q_del) == (j, q) if last is not None else j == -1
