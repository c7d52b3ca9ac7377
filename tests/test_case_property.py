"""Property-based tests (hypothesis): small random valid cases round-trip exactly and their nets satisfy
the invariants of omtepf.md §3.2–3.4 and §7; the full form equals the naive loop reference of test_hfgt."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenflow.case import Case, load_case
from tenflow.case.derived import STAY, TRAVEL, eligibility
from tenflow.cases.generate import grid_city
from tenflow.hfgt import build_nets
from test_hfgt import reference_matrices


@st.composite
def small_cases(draw: st.DrawFn) -> Case:
    nx = draw(st.integers(2, 4))
    ny = draw(st.integers(2, 4))
    return grid_city(
        nx, ny, draw(st.integers(1, 5)), seed=draw(st.integers(0, 10_000)), K=draw(st.integers(40, 60)),
        n_work=draw(st.integers(1, 2)), electrified=draw(st.sampled_from([0.0, 0.3, 1.0])),
        one_way_roads=draw(st.sampled_from([0.0, 0.4])), v2g=draw(st.booleans()),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_cases())
def test_round_trip(case: Case) -> None:
    with TemporaryDirectory() as d:
        case.save(Path(d) / "c")
        again = load_case(Path(d) / "c")
    assert again == case, again.diff(case)


def _check_full(case: Case) -> None:
    n = build_nets(case, "full")
    nb, nev = len(case.buffers), len(case.evs)
    n_arcs = int(case.roads["two_way"].sum() + len(case.roads))
    elec = case.roads["charge_mode"] != "none"
    n_warcs = int(case.roads.loc[elec, "two_way"].sum() + elec.sum())
    nE1 = len(case.generators) + len(case.variable_generators) + len(case.loads) + len(case.lines)
    assert n.M_plus.shape == ((2 + nev) * nb, 2 * nE1 + nev * (len(case.parking) + n_arcs + len(case.chargers) + n_warcs))
    Mp, Mm, D = reference_matrices(case)
    np.testing.assert_array_equal(n.M_plus.toarray(), Mp)
    np.testing.assert_array_equal(n.M_minus.toarray(), Mm)
    np.testing.assert_array_equal(n.D_minus.toarray(), D)
    _check_invariants(case, n)


def _check_invariants(case: Case, n) -> None:  # type: ignore[no-untyped-def]
    t, p = n.transitions, n.places
    nb = len(case.buffers)
    ev_rows = (p["operand"] == "ev").to_numpy()
    evc = (t["block"] != "E").to_numpy()
    Mm, Mp = n.M_minus.tocsc(), n.M_plus.tocsc()
    # token conservation: exactly one EV token consumed and produced, in the column's own EV rows
    sub_m, sub_p = Mm[ev_rows][:, evc], Mp[ev_rows][:, evc]
    np.testing.assert_array_equal(np.asarray(sub_m.sum(axis=0)).ravel(), 1)
    np.testing.assert_array_equal(np.asarray(sub_p.sum(axis=0)).ravel(), 1)
    r_m = np.asarray(sub_m.argmax(axis=0)).ravel()
    r_p = np.asarray(sub_p.argmax(axis=0)).ravel()
    te = t[evc]
    bpos = pd.Index(case.buffers["id"])
    evpos = pd.Index(case.evs["id"]).get_indexer(te["ev"])
    np.testing.assert_array_equal(r_m, evpos * nb + bpos.get_indexer(te["origin"]))
    np.testing.assert_array_equal(r_p, evpos * nb + bpos.get_indexer(te["dest"]))
    # KCL structure: electrical columns of M have +1 (gen, pv), -1 (load), +1/-1 (line) in their own part
    M = (n.M_plus - n.M_minus).tocsc()
    e = t[t["block"] == "E"]
    sums = np.asarray(M[: 2 * nb][:, e.index].sum(axis=0)).ravel()
    expect = e["kind"].map({"gen": 1.0, "pv": 1.0, "load": -1.0, "line": 0.0}).to_numpy()
    np.testing.assert_array_equal(sums, expect)
    part_rows = np.asarray(abs(M[nb: 2 * nb][:, e.index]).sum(axis=0)).ravel() > 0
    np.testing.assert_array_equal(part_rows, (e["part"] == "i").to_numpy())
    # Table V: park -> hold 1; road -> discharge = depletion; D rows of other EVs empty
    D = n.D_minus.tocsc()
    for kind, row in (("park", 1), ("road", 2)):
        cols = t.index[t["kind"] == kind]
        ev_i = pd.Index(case.evs["id"]).get_indexer(t.loc[cols, "ev"])
        vals = np.asarray(D[3 * ev_i + row, cols]).ravel()
        want = 1.0 if kind == "park" else t.loc[cols, "rate"].abs().to_numpy()
        np.testing.assert_array_equal(vals, want)
        assert (D[:, cols] != 0).sum() == len(cols)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_cases())
def test_net_invariants(case: Case) -> None:
    _check_full(case)
    n = build_nets(case, "pruned")
    _check_invariants(case, n)
    t, f = n.transitions, n.firings
    assert f is not None
    # every EV has at least one firing option at every step
    per = f.groupby(["ev_index", "k"]).size()
    assert len(per) == len(case.evs) * case.K
    # eligibility: pruned parking / charger columns are exactly the eligible (EV, lot) pairs
    for table, kinds in ((case.parking, ["park"]), (case.chargers, ["home", "com", "v2g"])):
        el = eligibility(case, table)
        cols = t[t["kind"].isin(kinds)]
        assert len(cols) == int(el.sum())
    # windows: during a stay every firing is at the stay buffer; travel allows roads
    g = f.merge(t[["kind", "origin", "dest"]], left_on="transition", right_index=True)
    s = n.ev_steps.reset_index(drop=True)
    s["ev_index"] = np.repeat(np.arange(len(case.evs)), case.K)
    g = g.merge(s[["ev_index", "k", "mode", "buffer", "charge"]], on=["ev_index", "k"])
    stay = g[g["mode"] == STAY]
    assert (stay["origin"] == stay["buffer"]).all() and (stay["dest"] == stay["buffer"]).all()
    assert stay["kind"].isin(["park", "home", "com", "v2g"]).all()
    assert (stay["charge"] | (stay["kind"] == "park")).all()
    trav = g[g["mode"] == TRAVEL]
    non_arc = trav[~trav["kind"].isin(["road", "inductive", "wire"])]
    assert (non_arc["origin"] == non_arc["buffer"]).all()
