"""Uncoordinated OMTEPF pipeline (omtepf.md §3.9, §5, §6.2 items 1–5, 7)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omtepf_reference import reference_schedule
from omtepf_spec_case import load_symmetrica
from tenflow.case import Case
from tenflow.formulations import transport as TR
from tenflow.problems import uncoordinated as UN
from tenflow.problems.omtepf_solution import OmtepfSolution

NVK = 32 * 57


@pytest.fixture(scope="module")
def case() -> Case:
    return load_symmetrica()


@pytest.fixture(scope="module")
def sched(case: Case) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    return UN.schedule(case)


@pytest.fixture(scope="module")
def full(case: Case) -> OmtepfSolution:
    return UN.run(case)


def test_travel_periods(case: Case) -> None:
    assert UN.travel_periods(TR.build_fleet(case)) == [(1, 9), (40, 49)]


def test_schedule_reference_counts(sched) -> None:
    """§5.2 reference outcome and §6.2 items 1–4 (exact counts)."""
    f, idle, soc, info = sched
    n = f["kind"].value_counts().to_dict()
    assert n["inductive"] == 32 and n["com"] == 64 and n["home"] == 192
    assert n["road"] + n["inductive"] == 192  # C_T = 9.60
    assert len(idle) == 16 and set(idle["k"]) == {40}  # C_Q = 0.80, 1^T Q_B[41] = 16
    assert f["charge"].clip(lower=0).sum() == 384  # R_C = 0.025 * 384 = 9.60 = C_T (eq. 66)
    com = f[f["kind"] == "com"]
    assert com["k"].max() == 10
    starts = com.groupby("ev")["k"].min().value_counts().sort_index().to_dict()
    assert starts == {3: 8, 4: 10, 6: 10, 8: 4}  # FIFO: 8 at k=3, 10 at k=4, 6+4 at k=6, 4 at k=8
    plug = n["com"] + n["home"]
    assert 1 - (plug + 16) / NVK == pytest.approx(0.8509, abs=5e-5)  # availability
    assert 192 / NVK == pytest.approx(0.1053, abs=5e-5)  # utilisation
    assert 1 - 16 / NVK == pytest.approx(0.9912, abs=5e-5)  # QoS
    s = soc.pivot(index="ev", columns="k", values="soc").to_numpy()
    assert s.min() >= 0 and s.max() <= 18 and (s[:, -1] == 18).all()
    # one state per EV per step (token conservation)
    per = f.groupby(["ev", "k"]).size().add(idle.groupby(["ev", "k"]).size(), fill_value=0)
    assert len(per) == NVK and (per == 1).all()


def test_heuristic_on_reference_routes_matches_independent_reimplementation(case: Case) -> None:
    """charge_asap applied to the §4.4 reference routes equals the spec-only re-implementation (tests/)."""
    ref = reference_schedule(case)
    fleet = TR.build_fleet(case)
    c = fleet.caps
    V, K = fleet.n_ev, fleet.K
    plan = UN.TransportPlan(code=np.zeros((V, K), np.int8), cap=np.full((V, K), -1), buf=np.full((V, K), -1),
                            stats=[])
    ev_pos = fleet.ev_ids.get_indexer(ref.firings["ev"].astype(str))
    key = pd.DataFrame({"ev": ev_pos, "origin": fleet.buffer_ids.get_indexer(ref.firings["origin"].astype(str)),
                        "dest": fleet.buffer_ids.get_indexer(ref.firings["dest"].astype(str)),
                        "kind": ref.firings["kind"].replace({"inductive": "road", "home": "park", "com": "park"}),
                        "k": ref.firings["k"]})
    caps = c.reset_index()[["index", "ev", "origin", "dest", "kind"]]
    m = key.merge(caps, on=["ev", "origin", "dest", "kind"], how="left")
    assert m["index"].notna().all()
    plan.code[m["ev"], m["k"]] = UN.P_FIRE
    plan.cap[m["ev"], m["k"]] = m["index"].astype(int)
    qi = fleet.ev_ids.get_indexer(ref.idle["ev"].astype(str))
    plan.code[qi, ref.idle["k"]] = UN.P_QUEUE
    fire, S, _ = UN.charge_asap(fleet, plan)
    vv, kk = np.nonzero(fire >= 0)
    mine = TR.firings_frame(fleet, fire[vv, kk], kk)
    a = mine[["ev", "k", "kind", "component"]].astype(str).sort_values(["ev", "k"]).reset_index(drop=True)
    b = ref.firings[["ev", "k", "kind", "component"]].astype(str).sort_values(["ev", "k"]).reset_index(drop=True)
    a["k"] = a["k"].astype(int)
    b["k"] = b["k"].astype(int)
    pd.testing.assert_frame_equal(a.sort_values(["ev", "k"]).reset_index(drop=True),
                                  b.sort_values(["ev", "k"]).reset_index(drop=True))
    ref_soc = ref.soc.pivot(index="ev", columns="k", values="soc").loc[list(fleet.ev_ids)].to_numpy()
    np.testing.assert_allclose(S, ref_soc)


def test_full_pipeline_feasible_and_evaluated(case: Case, full: OmtepfSolution) -> None:
    """§6.2 items 1–5 through the shared evaluator; per-step KCL residual tiny; voltages within limits."""
    from tenflow.results.omtepf_eval import evaluate

    ev = evaluate(case, full)
    assert ev.violations == []
    assert ev.C_T == pytest.approx(9.60) and ev.C_Q == pytest.approx(0.80) and ev.R_C == pytest.approx(9.60)
    assert ev.charge_units == pytest.approx(384)
    assert ev.availability == pytest.approx(0.8509, abs=5e-5)
    assert ev.effective_utilisation == pytest.approx(0.1237, abs=5e-5)
    assert full.info["opf"]["kcl_residual"] < 1e-8
    assert 0.9 - 1e-7 <= ev.v_min and ev.v_max <= 1.1 + 1e-7
    # §4.6 sanity band (±5 %): C_G ≈ 10.05, R_D ≈ 54.19 for the reference tie-breaks (ours may differ ≈3 %)
    assert ev.C_G == pytest.approx(10.05, rel=0.05)
    assert ev.R_D == pytest.approx(54.19, rel=0.05)


def test_per_step_opf_equals_global_scan(case: Case, full: OmtepfSolution) -> None:
    """§6.2 item 7: the per-step optimiser optimum equals the exact 1-D scan (global) to grid tolerance."""
    from tenflow.formulations import charging as CH
    from tenflow.formulations import ivacopf as iv
    from tenflow.formulations.grid_data import grid_from_case
    from tenflow.problems.opf import scan_opf

    fleet = TR.build_fleet(case)
    grid = grid_from_case(case)
    J = CH.currents_of_firings(fleet, full.firings, grid.K)
    busmap = pd.Index([str(b) for b in grid.buses]).get_indexer([str(b) for b in fleet.bus_ids])
    extra = np.zeros((grid.K, grid.n_bus), complex)
    np.add.at(extra.T, busmap, -J.T)
    g2 = grid.with_options(extra_injection=extra)
    scan = scan_opf(g2)
    V = full.voltages.pivot(index="k", columns="bus", values="vr").to_numpy() \
        + 1j * full.voltages.pivot(index="k", columns="bus", values="vi").to_numpy()
    V = V[:, pd.Index(full.voltages.pivot(index="k", columns="bus", values="vr").columns).get_indexer(
        [str(b) for b in grid.buses])]
    Ig = full.gen_currents.pivot(index="k", columns="gen", values="ir").to_numpy() \
        + 1j * full.gen_currents.pivot(index="k", columns="gen", values="ii").to_numpy()
    mine = iv.true_objective(grid, V, Ig)
    np.testing.assert_allclose(mine, scan["objective"].to_numpy(), atol=1e-6 + scan["tol"].to_numpy().max())


def test_uncoordinated_with_two_step_roads() -> None:
    """Multi-step traversals (durations, §3.3): the pipeline keeps one state per EV and step (inside the
    transition) and the SoC bookkeeping; every road of symmetrica-lite taking 2 steps with a longer day."""
    from omtepf_spec_case import spec_tables
    from tenflow.case import Case

    t = spec_tables()
    t["roads"]["travel_steps"] = 2
    it = t["itineraries"]
    # travel windows long enough for 4 two-step arcs: morning 1..9, work 10..39, evening 40..49, home 50..56
    it.loc[it.seq == 1, "k_to"] = 9
    it.loc[it.seq == 2, "k_from"] = 10
    it.loc[it.seq == 3, "k_to"] = 49
    it.loc[it.seq == 4, "k_from"] = 50
    c = Case.build({"name": "two-step", "K": 57}, {}, {}, **t)
    f, idle, soc, info = UN.schedule(c)
    drive = f[f["kind"].isin(["road", "inductive"])]
    assert len(drive) == 192
    busy = 57 * 32 - len(f) - len(idle)
    assert busy == len(drive)  # each traversal covers one extra step
    s = soc.pivot(index="ev", columns="k", values="soc").to_numpy()
    assert s.min() >= 0 and s.max() <= 18 and (s[:, -1] == 18).all()


def test_grid_stage_follows_the_case_revenue_mode(case: Case, full: OmtepfSolution) -> None:
    """options.revenue_mode reaches the per-step OPF: one tangent at |V| = 1 (no CCP iterations) is a majoriser
    of the exact objective, so it can only be worse than (or equal to) the converged CCP default."""
    opts = dict(case.options)
    opts["revenue_mode"] = "tangent"
    tables = {n: case.table(n) for n in ("buffers", "roads", "parking", "chargers", "lines", "generators",
                                         "variable_generators", "loads", "evs", "itineraries", "profiles")}
    tangent = UN.run(Case.build(case.meta, opts, case.costs, **tables))
    assert tangent.info["opf"]["method"] == "tangent" and full.info["opf"]["method"] == "ccp"
    assert tangent.info["objective"] >= full.info["objective"] - 1e-9
