"""Hetero-functional nets of symmetrica-lite: Table IV counts, §7 pruned sizes, §3.2–3.4 invariants.

Matrices are compared with a deliberately naive reference built with Python loops directly from the
wording of omtepf.md §1.3, §1.4, §3.2 and §3.4 (independent of the kron/template builder under test).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import tenflow
from tenflow.case import Case
from tenflow.hfgt import Nets, build_nets

U = complex(0.9, -math.sqrt(1 - 0.81))


@pytest.fixture(scope="module")
def sym() -> Case:
    return tenflow.cases.load("symmetrica-lite")


@pytest.fixture(scope="module")
def full(sym: Case) -> Nets:
    return build_nets(sym, "full")


@pytest.fixture(scope="module")
def pruned(sym: Case) -> Nets:
    return build_nets(sym, "pruned")


def test_table_iv_counts(full: Nets) -> None:
    s = full.summary()
    assert s["places"] == 884
    assert s["transitions"] == 4040
    assert (s["electrical"], s["transport"], s["charging"]) == (136, 3104, 800)
    assert full.M_plus.shape == full.M_minus.shape == (884, 4040)
    assert full.D_minus.shape == (96, 4040)
    assert full.ML_plus.shape == (32, 96)
    # Table IV per part / per EV
    t = full.transitions
    e_r = t[(t.block == "E") & (t.part == "r")]["kind"].value_counts().to_dict()
    assert e_r == {"gen": 1, "pv": 17, "load": 25, "line": 25}
    ev1 = t[t.ev == "1"]["kind"].value_counts().to_dict()
    assert ev1 == {"park": 17, "road": 80, "home": 16, "com": 1, "inductive": 8}


def test_pruned_sizes_section_7(pruned: Nets) -> None:
    s = pruned.summary()
    assert s["ev_capabilities_per_step"] == 2944  # 92 per EV
    assert s["firings"] == 45_856
    f = pruned.firings
    assert f is not None
    per = f.groupby(["ev", "k"], observed=True).size().unstack()
    # k=0: 1 (fixed); morning 90; work 2; evening 90; night 2  (§7)
    expect = np.r_[[1], np.full(7, 90), np.full(32, 2), np.full(8, 90), np.full(9, 2)]
    assert per.shape == (32, 57)
    assert (per.to_numpy() == expect[None, :]).all()
    assert per.sum(axis=1).eq(1433).all()
    # ordering (ev, k, transition)
    key = np.c_[f["ev"].astype(int).to_numpy(), f["k"].to_numpy(), f["transition"].to_numpy()]
    assert (np.lexsort(key.T[::-1]) == np.arange(len(f))).all()
    assert not f.duplicated().any()


def test_pruned_firing_semantics(sym: Case, pruned: Nets) -> None:
    """Spot-check §3.5 windows on EV 5 (home 3) by name."""
    t = pruned.transitions
    f = pruned.firings
    assert f is not None
    g = f.merge(t, left_on="transition", right_index=True)
    e5 = g[g.ev_x == "5"]
    k0 = e5[e5.k == 0]
    assert list(zip(k0.kind, k0.component, strict=True)) == [("park", "P3")]
    k3 = e5[e5.k == 3]
    assert set(k3.kind) == {"road", "inductive", "park", "com"}
    assert set(k3[k3.kind == "park"].component) == {"P17"}  # no parking at home in the morning (§3.5)
    k20 = e5[e5.k == 20]
    assert sorted(zip(k20.kind, k20.component, strict=True)) == [("com", "C17"), ("park", "P17")]
    k45 = e5[e5.k == 45]
    assert set(k45[k45.kind.isin(["park", "home", "com"])].component) == {"P3", "H3"}
    k50 = e5[e5.k == 50]
    assert sorted(zip(k50.kind, k50.component, strict=True)) == [("home", "H3"), ("park", "P3")]


# --------------------------------------------------------------------------------------- naive reference
def reference_matrices(case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """M+, M-, D- of the full form built element by element from the spec's wording."""
    B = list(case.buffers["id"])
    bi = {b: i for i, b in enumerate(B)}
    nb = len(B)
    evs = list(case.evs["id"])
    n_places = (2 + len(evs)) * nb
    cols: list[tuple[dict[int, float], dict[int, float], dict[int, float]]] = []  # (plus, minus, D)

    def place(op: str, ev_i: int | None, b: str) -> int:
        return {"Ir": 0, "Ii": nb}[op] + bi[b] if op != "ev" else 2 * nb + ev_i * nb + bi[b]  # type: ignore[operator]

    for part in ("Ir", "Ii"):
        for g in case.generators.itertuples():
            cols.append(({place(part, None, g.bus): 1.0}, {}, {}))
        for s in case.variable_generators.itertuples():
            cols.append(({place(part, None, s.bus): 1.0}, {}, {}))
        for d in case.loads.itertuples():
            cols.append(({}, {place(part, None, d.bus): 1.0}, {}))
        for ln in case.lines.to_dict("records"):
            cols.append(({place(part, None, ln["to"]): 1.0}, {place(part, None, ln["from"]): 1.0}, {}))
    arcs = []
    for r in case.roads.itertuples():
        arcs.append((r, r.a, r.b))
        if r.two_way:
            arcs.append((r, r.b, r.a))
    for v, _ in enumerate(evs):
        for p in case.parking.itertuples():
            cols.append(({place("ev", v, p.buffer): 1.0}, {place("ev", v, p.buffer): 1.0}, {3 * v + 1: 1.0}))
        for r, o, t in arcs:
            cols.append(({place("ev", v, t): 1.0}, {place("ev", v, o): 1.0}, {3 * v + 2: r.depletion}))
    for v, _ in enumerate(evs):
        for c in case.chargers.itertuples():
            sgn = -1.0 if c.type == "v2g" else 1.0
            minus = {place("ev", v, c.buffer): 1.0}
            for part, val in (("Ir", sgn * c.current_re), ("Ii", sgn * c.current_im)):
                if val != 0:
                    minus[place(part, None, c.buffer)] = val
            d = {3 * v + 2: c.rate} if c.type == "v2g" else {3 * v: c.rate}
            cols.append(({place("ev", v, c.buffer): 1.0}, minus, d))
        for r, o, t in arcs:
            if r.charge_mode == "none":
                continue
            bus = o if r.charge_bus == "origin" else (t if r.charge_bus == "destination" else r.charge_bus)
            minus = {place("ev", v, o): 1.0, place("Ir", None, bus): r.current_re, place("Ii", None, bus): r.current_im}
            d = {3 * v: r.charge_rate}
            if case.options["wireless_net_soc"] == 0:
                d[3 * v + 2] = r.depletion
            cols.append(({place("ev", v, t): 1.0}, minus, d))
    n = len(cols)
    Mp, Mm, D = np.zeros((n_places, n)), np.zeros((n_places, n)), np.zeros((3 * len(evs), n))
    for j, (p, m, d) in enumerate(cols):
        for i, x in p.items():
            Mp[i, j] += x
        for i, x in m.items():
            Mm[i, j] += x
        for i, x in d.items():
            D[i, j] += x
    return Mp, Mm, D


def test_full_matrices_equal_naive_reference(sym: Case, full: Nets) -> None:
    Mp, Mm, D = reference_matrices(sym)
    np.testing.assert_array_equal(full.M_plus.toarray(), Mp)
    np.testing.assert_array_equal(full.M_minus.toarray(), Mm)
    np.testing.assert_array_equal(full.D_minus.toarray(), D)


def test_place_index_names(full: Nets) -> None:
    p = full.places
    assert list(p.iloc[0]) == ["Ir", None, "1"]
    assert list(p.iloc[26 + 17]) == ["Ii", None, "18"]
    assert list(p.iloc[52 + 26 * 4 + 2]) == ["ev", "5", "3"]  # §1.3: EV-major, buffers inner


def test_road_columns_move_one_token(full: Nets) -> None:
    """§3.2: each road column takes the EV token at its origin and puts it at its destination, nothing else."""
    t, p = full.transitions, full.places
    key = {(o, e, b): i for i, (o, e, b) in enumerate(p.itertuples(index=False))}
    roads = t[t.kind.isin(["road", "inductive"])]
    Mm = full.M_minus.tocsc()
    Mp = full.M_plus.tocsc()
    ev_rows = (p["operand"] == "ev").to_numpy()
    for j, r in zip(roads.index, roads.itertuples(), strict=True):
        col_m = Mm[:, j].toarray().ravel()
        col_p = Mp[:, j].toarray().ravel()
        assert np.flatnonzero(col_m[ev_rows]).tolist() == [key[("ev", r.ev, r.origin)] - 52]
        assert np.flatnonzero(col_p[ev_rows]).tolist() == [key[("ev", r.ev, r.dest)] - 52]
        assert col_m[key[("ev", r.ev, r.origin)]] == 1 and col_p[key[("ev", r.ev, r.dest)]] == 1
        assert r.origin != r.dest
    # token conservation (§3.3): every EV column has column sums 1 in the EV rows of M- and M+
    evcols = (t.block != "E").to_numpy()
    np.testing.assert_array_equal(np.asarray(full.M_minus[ev_rows][:, evcols].sum(axis=0)).ravel(), 1)
    np.testing.assert_array_equal(np.asarray(full.M_plus[ev_rows][:, evcols].sum(axis=0)).ravel(), 1)
    # and M·1 over EV rows: the net effect of any road firing on the total number of EV tokens is 0
    assert np.allclose(np.asarray(full.M[ev_rows][:, evcols].sum(axis=0)), 0)


def test_wireless_order_and_bus(full: Nets) -> None:
    """§4.2: wireless capability order R10 AB, R10 BA, R11 AB, ..., current drawn at the arc's origin bus."""
    t = full.transitions
    w = t[(t.ev == "1") & (t.kind == "inductive")]
    assert list(w.component) == ["R10", "R10", "R11", "R11", "R30", "R30", "R31", "R31"]
    assert list(w.origin) == ["26", "17", "17", "22", "20", "17", "17", "24"]
    assert (w.bus == w.origin).all()
    np.testing.assert_allclose(w.current_re + 1j * w.current_im, 0.08 * U)


def test_kcl_rows(sym: Case, full: Nets) -> None:
    """§3.3 eq. 47: (M+ - M-) restricted to E rows, applied to a firing vector, is the KCL residual per bus."""
    rng = np.random.default_rng(1)
    t = full.transitions
    u = np.zeros(len(t))
    e = (t.block == "E").to_numpy()
    u[e] = rng.normal(size=e.sum())
    chg = (t.block == "C").to_numpy()
    u[chg] = rng.integers(0, 2, size=chg.sum())
    res = (full.M_plus[:52] @ u) - (full.M_minus[:52] @ u)
    # hand-written KCL: gens + PV + inflow lines - outflow lines - loads - charging draws, per bus and part
    expect = np.zeros(52)
    buses = {b: i for i, b in enumerate(sym.buffer_ids)}
    for j, r in enumerate(t.itertuples()):
        if r.block == "E":
            off = 0 if r.part == "r" else 26
            if r.kind in ("gen", "pv"):
                expect[off + buses[r.bus]] += u[j]
            elif r.kind == "load":
                expect[off + buses[r.bus]] -= u[j]
            else:
                expect[off + buses[r.dest]] += u[j]
                expect[off + buses[r.origin]] -= u[j]
        elif r.block == "C":
            expect[buses[r.bus]] -= r.current_re * u[j]
            expect[26 + buses[r.bus]] -= r.current_im * u[j]
    np.testing.assert_allclose(res, expect, atol=1e-12)
    # home charger draws 0.04 u at the home bus (§2.2)
    h = t[(t.ev == "3") & (t.kind == "home") & (t.component == "H2")].index[0]
    col = full.M_minus[:, h].toarray().ravel()
    assert col[buses["2"]] == pytest.approx(0.04 * U.real) and col[26 + buses["2"]] == pytest.approx(0.04 * U.imag)


def test_table_v_ratios(full: Nets) -> None:
    t = full.transitions
    D = full.D_minus.toarray()
    ot = full.operand_transitions
    assert list(ot.iloc[:3].action) == ["charge", "hold", "discharge"]
    expected = {"park": (0, 1, 0), "road": (0, 0, 2), "home": (1, 0, 0), "com": (2, 0, 0), "inductive": (2, 0, 2)}
    for kind, ratio in expected.items():
        cols = t.index[(t.kind == kind) & (t.ev == "7")]
        v = 6  # EV "7" is the 7th EV
        for j in cols:
            assert tuple(D[3 * v:3 * v + 3, j]) == ratio, (kind, j)
            assert np.count_nonzero(D[:, j]) == sum(x != 0 for x in ratio)
    assert not D[:, (t.block == "E").to_numpy()].any()
    # net rate column = charge - discharge
    np.testing.assert_allclose(t.rate[t.block != "E"], (D[0::3] - D[2::3]).sum(axis=0)[(t.block != "E").to_numpy()])


def test_semantics_b(sym: Case) -> None:
    c = sym.copy()
    c.options["wireless_net_soc"] = 2
    n = build_nets(c, "full")
    t = n.transitions
    j = t.index[(t.kind == "inductive") & (t.ev == "1")][0]
    assert n.D_minus[:, j].toarray().ravel()[:3].tolist() == [2.0, 0.0, 0.0]
    assert t.rate[j] == 2.0
    Mp, Mm, D = reference_matrices(c)
    np.testing.assert_array_equal(n.D_minus.toarray(), D)


def test_operand_net(full: Nets) -> None:
    ML = (full.ML_plus - full.ML_minus).toarray()
    assert ML[0, :3].tolist() == [1, 0, -1]
    assert sparse.issparse(full.ML_plus)


def test_pruned_is_column_subset_of_full(full: Nets, pruned: Nets) -> None:
    cols = ["block", "kind", "part", "ev", "component", "origin", "dest", "cap"]
    fk = pd.MultiIndex.from_frame(full.transitions[cols].astype(str))
    pk = pd.MultiIndex.from_frame(pruned.transitions[cols].astype(str))
    pos = fk.get_indexer(pk)
    assert (pos >= 0).all() and (np.diff(pos) > 0).all()
    assert (full.M_plus[:, pos] != pruned.M_plus).nnz == 0
    assert (full.M_minus[:, pos] != pruned.M_minus).nnz == 0
    assert (full.D_minus[:, pos] != pruned.D_minus).nnz == 0


def test_v2g_and_wire(sym: Case) -> None:
    """Table I modalities beyond the test case: v2g discharges and injects; wire roads charge while moving."""
    c = sym.copy()
    c.chargers = pd.concat([c.chargers, pd.DataFrame([{
        "id": "V17", "buffer": "17", "type": "v2g", "rate": 1.0, "current_re": 0.036, "current_im": -0.0174,
        "plugs": 2, "eligible": "all", "revenue_per_unit": 0.03}])], ignore_index=True)
    c.roads.loc[c.roads.id == "R1", ["charge_mode", "charge_rate", "current_re", "current_im", "charge_bus"]] = [
        "wire", 1.0, 0.01, -0.005, "destination"]
    c.validate()
    n = build_nets(c, "full")
    t = n.transitions
    assert len(t) == 136 + 32 * (97 + 17 + 1 + 8 + 2)
    j = t.index[(t.kind == "v2g") & (t.ev == "1")][0]
    assert (t.current_re[j], t.current_im[j]) == (-0.036, 0.0174)
    assert t.rate[j] == -1.0 and t.revenue[j] == pytest.approx(0.03 - 0.025)  # v2g price minus c_C (recharge earns no c_C)
    assert n.D_minus[:, j].toarray().ravel()[:3].tolist() == [0.0, 0.0, 1.0]
    w = t[(t.kind == "wire") & (t.ev == "1")]
    assert list(w.origin) == ["1", "2"] and list(w.bus) == ["2", "1"]
    Mp, Mm, D = reference_matrices(c)
    np.testing.assert_array_equal(n.M_minus.toarray(), Mm)
    np.testing.assert_array_equal(n.M_plus.toarray(), Mp)
    np.testing.assert_array_equal(n.D_minus.toarray(), D)


def test_resources_section_3_6(sym: Case, pruned: Nets) -> None:
    """§3.6: arc rows add wireless to plain traversals; lot 17 adds commercial charging; plugs = 10."""
    t = pruned.transitions
    r = pruned.resources
    arcs, lots, chg = r["arcs"], r["lots"], r["chargers"]
    assert arcs.S.shape == (80, len(t)) and len(lots.rows) == 17 and len(chg.rows) == 17
    # arc R10 A->B (26 -> 17): 32 plain + 32 wireless columns, capacity 4
    a = arcs.rows.index[(arcs.rows.road == "R10") & (arcs.rows.direction == "AB")][0]
    cols = arcs.S[a].indices
    assert sorted(t.kind[cols].value_counts().items()) == [("inductive", 32), ("road", 32)]
    assert (t.origin[cols] == "26").all() and (t.dest[cols] == "17").all()
    assert arcs.capacity[a] == 4
    # plain arc: 32 columns, capacity 3
    b = arcs.rows.index[(arcs.rows.road == "R1") & (arcs.rows.direction == "BA")][0]
    assert len(arcs.S[b].indices) == 32 and arcs.capacity[b] == 3
    # lot 17: 32 parking + 32 commercial charging columns, capacity 32
    lot = lots.rows.index[lots.rows.id == "P17"][0]
    assert sorted(t.kind[lots.S[lot].indices].value_counts().items()) == [("com", 32), ("park", 32)]
    assert lots.capacity[lot] == 32
    # home lot 3: parking and home charging of EVs 5 and 6 only
    h = lots.rows.index[lots.rows.id == "P3"][0]
    assert sorted(set(t.ev[lots.S[h].indices])) == ["5", "6"] and len(lots.S[h].indices) == 4
    c17 = chg.rows.index[chg.rows.id == "C17"][0]
    assert len(chg.S[c17].indices) == 32 and chg.capacity[c17] == 10
    assert np.isinf(chg.capacity[chg.rows.index[chg.rows.id == "H1"][0]])
    # every EV column is in at most one arc and the selectors have unit entries
    assert arcs.S.sum(axis=0).max() == 1 and set(np.unique(lots.S.data)) == {1.0}


def test_idle_variables_section_7(pruned: Nets) -> None:
    """§7: idle variables Q_B,T only free in travel windows: 15 steps x 26 buffers x 32 EVs = 12,480."""
    idle = pruned.idle
    assert idle is not None and len(idle) == 12_480
    assert sorted(idle["k"].unique().tolist()) == [*range(1, 8), *range(40, 48)]
    p = pruned.places.iloc[idle["place"].to_numpy()]
    assert (p["operand"] == "ev").all()
    assert (p["ev"].to_numpy() == idle["ev"].astype(str).to_numpy()).all()
    assert (p["buffer"].to_numpy() == idle["buffer"].to_numpy()).all()
