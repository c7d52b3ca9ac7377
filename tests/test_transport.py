"""Tests of the EV transport block (omtepf.md §3.3, §3.5, §3.6, §5.1, §7)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from omtepf_spec_case import load_symmetrica, spec_case
from tenflow.case import Case
from tenflow.errors import InfeasibleError
from tenflow.formulations import charging as CH
from tenflow.formulations import transport as TR
from tenflow.problems import uncoordinated as UN
from tenflow.solve import Program, solve_highs


@pytest.fixture(scope="module")
def case() -> Case:
    return load_symmetrica()


def _period(case: Case, k0: int, k1: int, start_buf: str | None = None, prune: bool = True):
    fleet = TR.build_fleet(case)
    start = fleet.home if start_buf is None else np.full(fleet.n_ev, fleet.buffer_ids.get_loc(start_buf))
    fs = TR.firing_set(fleet, k0, k1, start, prune=prune, kinds=("park", "road"))
    p = Program("t")
    tv = TR.add_transport(p, fleet, fs)
    CH.add_soc(p, tv, soc_start=np.full(fleet.n_ev, 18.0))
    s = solve_highs(p)
    assert s.status == "optimal"
    f = TR.decode_firings(fleet, fs, s["x"])
    q = TR.decode_idle(fleet, fs, s["q"])
    return s, f, q, fs


def test_morning_milp_96_traversals_no_queue(case: Case) -> None:
    """§5.1: morning optimum 96 traversals (= 2 x sum of distances 48), 0 queued EV-steps."""
    s, f, q, _ = _period(case, 0, 9)
    assert (f["kind"] == "road").sum() == 96
    assert len(q) == 0
    assert s.objective == pytest.approx(0.05 * 96)
    # every EV parked at 17 at k = 8 and the road loads within capacity (§3.6 item 1)
    assert set(f[(f.k == 8)]["component"]) == {"P17"}
    load = f[f.kind == "road"].groupby(["component", "origin", "k"]).size()
    assert load.max() <= 4


def test_evening_milp_16_queued_at_k40(case: Case) -> None:
    """§5.1: evening optimum 96 traversals and 16 queued EV-steps, all at k = 40 (4 spokes x 4)."""
    s, f, q, _ = _period(case, 40, 49, start_buf="17")
    assert (f["kind"] == "road").sum() == 96
    assert len(q) == 16 and set(q["k"]) == {40} and set(q["buffer"]) == {"17"}
    assert s.objective == pytest.approx(0.05 * 96 + 0.05 * 16)


def test_pruning_keeps_the_optimum(case: Case) -> None:
    """Space–time reachability pruning (§7) removes variables but not feasible plans."""
    s1, *_, fs1 = _period(case, 40, 49, start_buf="17", prune=True)
    s0, *_, fs0 = _period(case, 40, 49, start_buf="17", prune=False)
    assert fs1.n_x < fs0.n_x
    assert s1.objective == pytest.approx(s0.objective)


def test_capability_counts_match_spec(case: Case) -> None:
    """§7: 92 eligible capabilities per EV (80 roads + 8 wireless + 2 parks + home + commercial)."""
    fleet = TR.build_fleet(case)
    per_ev = fleet.caps.groupby("ev").size()
    assert (per_ev == 92).all()
    kinds = fleet.caps[fleet.caps.ev == 0]["kind"].value_counts().to_dict()
    assert kinds == {"road": 80, "inductive": 8, "park": 2, "home": 1, "com": 1}
    # window pruning alone: k=0 -> 1 option, travel steps -> 90, stays -> 2 (park + charge) (§7)
    ok, _ = TR.window_mask(fleet, 0, fleet.K)
    per_step = ok[fleet.caps.ev.to_numpy() == 0].sum(axis=0)
    assert per_step[3] == 90 and per_step[20] == 2 and per_step[50] == 2


# ---------------------------------------------------------------------------------------------- brute force
def _line_case(cap: int = 1, n_ev: int = 2, K: int = 5, travel_to: int = 3) -> Case:
    """Tiny line network A - B - C, EVs at A travel to C in k = 1..travel_to, stay at C afterwards."""
    buffers = pd.DataFrame({"id": ["A", "B", "C"], "is_bus": [True, True, True]})
    roads = pd.DataFrame({"id": ["r1", "r2"], "a": ["A", "B"], "b": ["B", "C"], "capacity": [cap, cap]})
    parking = pd.DataFrame({"id": ["PA", "PC"], "buffer": ["A", "C"], "capacity": [n_ev, n_ev]})
    evs = pd.DataFrame({"id": [f"e{i}" for i in range(n_ev)], "home": ["A"] * n_ev})
    rows = []
    for i in range(n_ev):
        rows += [(f"e{i}", 0, 0, 0, "stay", "A", False), (f"e{i}", 1, 1, travel_to, "travel", "C", False),
                 (f"e{i}", 2, travel_to + 1, K - 1, "stay", "C", False)]
    it = pd.DataFrame(rows, columns=["ev", "seq", "k_from", "k_to", "activity", "buffer", "charge"])
    return Case.build({"name": "line", "K": K}, {}, {}, buffers=buffers, roads=roads, parking=parking, evs=evs,
                      itineraries=it)


def _brute_force(n_ev: int, cap: int, K: int, travel_to: int) -> float:
    """Enumerate every per-EV action sequence on A-B-C (wait / move forward / backward / park at C)."""
    nxt = {"A": ["B"], "B": ["A", "C"], "C": ["B"]}
    plans = []

    def rec(k: int, at: str, acts: list) -> None:
        if k == K:
            plans.append(acts)
            return
        if k == 0:
            if at == "A":
                rec(1, "A", acts + [("park", "A")])
            return
        if k > travel_to:  # stay at C
            if at == "C":
                rec(k + 1, "C", acts + [("park", "C")])
            return
        rec(k + 1, at, acts + [("wait", at)])
        if at == "C":
            rec(k + 1, at, acts + [("park", at)])
        for b in nxt[at]:
            rec(k + 1, b, acts + [("move", at + b)])

    rec(0, "A", [])
    best = np.inf
    for combo in itertools.product(plans, repeat=n_ev):
        ok = True
        for k in range(K):
            moves = [p[k][1] for p in combo if p[k][0] == "move"]
            if any(moves.count(m) > cap for m in set(moves)):
                ok = False
                break
        if not ok:
            continue
        cost = sum(0.05 * (a == "move") + 0.05 * (a == "wait") for p in combo for a, _ in p)
        best = min(best, cost)
    return best


@pytest.mark.parametrize(("n_ev", "cap", "travel_to"), [(2, 1, 3), (3, 1, 4), (3, 2, 3), (2, 1, 4)])
def test_transport_milp_equals_brute_force(n_ev: int, cap: int, travel_to: int) -> None:
    K = travel_to + 2
    c = _line_case(cap=cap, n_ev=n_ev, K=K, travel_to=travel_to)
    fleet = TR.build_fleet(c)
    fs = TR.firing_set(fleet, 0, K)
    p = Program("t")
    TR.add_transport(p, fleet, fs)
    s = solve_highs(p)
    assert s.objective == pytest.approx(_brute_force(n_ev, cap, K, travel_to))


# ---------------------------------------------------------------------------------------------- bad input
def test_itinerary_too_short_names_ev_and_window(case: Case) -> None:
    """A corner EV (distance 4) that must reach 17 within k = 1..2 cannot make it: infeasible, named."""
    it = case.itineraries.copy()
    sel = (it.ev == "1") & (it.seq >= 1)
    it = it[~sel]
    extra = pd.DataFrame([("1", 2, 1, 2, "travel", "17", True), ("1", 3, 3, 39, "stay", "17", True),
                          ("1", 4, 40, 47, "travel", "1", True), ("1", 5, 48, 56, "stay", "1", True)],
                         columns=it.columns)
    # the case validator already rejects it (shortest path check); the optimiser must too, on its own
    bad = spec_case(validate=False, itineraries=pd.concat([it, extra], ignore_index=True))
    with pytest.raises(InfeasibleError) as ei:
        UN.schedule(bad)
    msg = str(ei.value)
    assert "EV 1" in msg and "k=1..2" in msg and "17" in msg
    assert "EV 2:" not in msg


def test_capacity_too_small_is_infeasible_and_named() -> None:
    """Workplace lot of 20 spaces for 32 EVs: every EV is feasible alone, the capacity is named."""
    c = spec_case()
    lots = c.parking.copy()
    lots.loc[lots.id == "P17", "capacity"] = 20
    bad = spec_case(validate=False, parking=lots)
    with pytest.raises(InfeasibleError) as ei:
        UN.schedule(bad)
    msg = str(ei.value)
    assert "capacities are too small" in msg and "steps 1..8" in msg and "EVs [" in msg


def test_firing_set_equals_hfgt_pruned_nets(case: Case) -> None:
    """The window/eligibility-pruned firing variables equal the pruned nets of :mod:`tenflow.hfgt` (built
    independently from M+/M-): 45,856 firings and 12,480 idle variables (§7), same (EV, k, transition)."""
    hfgt = pytest.importorskip("tenflow.hfgt")
    nets = hfgt.build_nets(case, form="pruned")
    fleet = TR.build_fleet(case)
    fs = TR.firing_set(fleet, 0, fleet.K, prune=False)
    assert (fs.n_x, fs.n_q) == (len(nets.firings), len(nets.idle)) == (45856, 12480)
    t = nets.transitions.iloc[nets.firings["transition"].to_numpy()]
    # origin/dest of a transition = the buffers of its M- / M+ entries
    em = nets.M_minus[:, nets.firings["transition"].to_numpy()].tocsc()
    assert (np.diff(em.indptr) >= 1).all()
    a = pd.DataFrame({"ev": nets.firings["ev"].astype(str).to_numpy(), "k": nets.firings["k"].to_numpy(),
                      "kind": t["kind"].to_numpy(), "comp": t["component"].astype(str).to_numpy(),
                      "o": t["origin"].astype(str).to_numpy(), "d": t["dest"].astype(str).to_numpy(),
                      "rate": t["rate"].to_numpy()})
    cp = fleet.caps.iloc[fs.x_cap]
    b = pd.DataFrame({"ev": fleet.ev_ids[cp["ev"]].to_numpy(), "k": fs.x_k, "kind": cp["kind"].to_numpy(),
                      "comp": cp["component"].astype(str).to_numpy(), "o": fleet.buffer_ids[cp["origin"]].to_numpy(),
                      "d": fleet.buffer_ids[cp["dest"]].to_numpy(), "rate": cp["rate"].to_numpy()})
    m = a.merge(b, how="outer", indicator=True, on=list(a.columns))
    assert (m["_merge"] == "both").all()
    # reachability pruning removes most of the remaining road variables (§7)
    assert TR.firing_set(fleet, 0, fleet.K).n_x < 0.4 * fs.n_x


def test_conservation_rows_equal_eq8_from_hfgt_incidence(case: Case) -> None:
    """The EV conservation rows equal eq. 8 written with the hfgt nets' M+ / M- (durations 1): for every firing
    of transition t at k, -M-[:, t] in the rows of step k and +M+[:, t] in the rows of step k+1."""
    hfgt = pytest.importorskip("tenflow.hfgt")
    nets = hfgt.build_nets(case, form="pruned")
    fleet = TR.build_fleet(case)
    fs = TR.firing_set(fleet, 0, fleet.K, prune=False)
    Ax, _, _, node = TR.conservation_matrices(fleet, fs)
    # align the nets' firings with ours by (ev, k, kind, component, origin, dest)
    t = nets.transitions.iloc[nets.firings["transition"].to_numpy()]
    key_n = pd.MultiIndex.from_arrays([nets.firings["ev"].astype(str).to_numpy(), nets.firings["k"].to_numpy(),
                                       t["kind"].to_numpy(), t["component"].astype(str).to_numpy(),
                                       t["origin"].astype(str).to_numpy(), t["dest"].astype(str).to_numpy()])
    cp = fleet.caps.iloc[fs.x_cap]
    key_m = pd.MultiIndex.from_arrays([fleet.ev_ids[cp["ev"]].to_numpy(), fs.x_k, cp["kind"].to_numpy(),
                                       cp["component"].astype(str).to_numpy(),
                                       fleet.buffer_ids[cp["origin"]].to_numpy(), fleet.buffer_ids[cp["dest"]].to_numpy()])
    pos = key_n.get_indexer(key_m)
    assert (pos >= 0).all()
    tr = nets.firings["transition"].to_numpy()[pos]
    k = fs.x_k
    B, T = fleet.n_buf, fleet.K
    n_el = 2 * B  # electrical places first (I^r, I^i per buffer), then (ev, buffer) EV-major
    Mm = nets.M_minus.tocsc()[n_el:, tr].tocoo()
    Mp = nets.M_plus.tocsc()[n_el:, tr].tocoo()
    arr = k[Mp.col] + 1 < T  # an arrival at k+1 = K falls outside the horizon
    rows = np.r_[Mm.row * T + k[Mm.col], (Mp.row * T + k[Mp.col] + 1)[arr]]
    cols = np.r_[Mm.col, Mp.col[arr]]
    vals = np.r_[-Mm.data, Mp.data[arr]]
    ref = sp.csr_matrix((vals, (rows, cols)), shape=(fleet.n_ev * B * T, fs.n_x)).tocsr()[node]
    assert abs(ref - Ax).max() < 1e-12


def test_multi_step_travel_duration() -> None:
    """A road of 2 steps (§3.3 durations): the EV is inside the transition during k and k+1 (no idle, no
    queue), arrives at k+2; a window one step too short is infeasible."""
    c = _line_case(cap=1, n_ev=1, K=6, travel_to=4)
    roads = c.roads.copy()
    roads.loc[roads.id == "r1", "travel_steps"] = 2
    c2 = Case.build({"name": "line2", "K": 6}, {}, {}, buffers=c.buffers, roads=roads, parking=c.parking, evs=c.evs,
                    itineraries=c.itineraries)
    fleet = TR.build_fleet(c2)
    fs = TR.firing_set(fleet, 0, 6)
    p = Program("t")
    tv = TR.add_transport(p, fleet, fs)
    CH.add_soc(p, tv)
    s = solve_highs(p)
    assert s.status == "optimal" and s.objective == pytest.approx(0.10)
    f = TR.decode_firings(fleet, fs, s["x"])
    r = f[f["kind"] == "road"].set_index("component")["k"]
    assert r["r2"] >= r["r1"] + 2
    assert len(f) == 6 - 1  # k and k+1 of r1 are one firing
    # travel window 1..2 with a stay at C from k = 3 cannot be met (earliest arrival at C is k = 4)
    short = _line_case(cap=1, n_ev=1, K=4, travel_to=2)
    roads = short.roads.copy()
    roads.loc[roads.id == "r1", "travel_steps"] = 2
    c3 = Case.build({"name": "line3", "K": 4}, {}, {}, validate=False, buffers=short.buffers, roads=roads,
                    parking=short.parking, evs=short.evs, itineraries=short.itineraries)
    fs3 = TR.firing_set(TR.build_fleet(c3), 0, 4)
    assert not fs3.reach[0, :, 0].any()
