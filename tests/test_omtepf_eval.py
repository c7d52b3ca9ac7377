"""Evaluator arithmetic (omtepf.md §3.7–3.8, §6.2) against hand-computed values and independent grid solves."""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tenflow.problems.omtepf_solution import OmtepfSolution
from tenflow.results.omtepf_eval import SolutionError, check_feasibility, evaluate, improvement

TAN = math.tan(math.acos(0.9))


# ------------------------------------------------------------------------------------------ tiny case
def tiny_case(**opts: object) -> SimpleNamespace:
    """3 buses G-A-B (radial), one generator at G, PV at B, loads at A and B, one electrified road A-B,
    a home charger at A, a v2g charger at B, two EVs (homes A and B), K = 2."""
    options = {"wireless_net_soc": 0, "one_way_lines": True, "v_min": 0.9, "v_max": 1.1}
    options.update(opts)
    return SimpleNamespace(
        meta={"name": "tiny", "start_time": "06:00", "step_minutes": 15, "K": 2},
        options=options,
        costs={"c_T": 0.05, "c_Q": 0.07, "c_C": 0.025, "lambda_S": 0.146},
        K=2,
        buffers=pd.DataFrame({"id": ["G", "A", "B"], "is_bus": [True, True, True]}),
        roads=pd.DataFrame({"id": ["R1"], "a": ["A"], "b": ["B"], "two_way": [True], "capacity": [1],
                            "travel_steps": [1], "depletion": [2.0], "cost": [0.05], "charge_mode": ["inductive"],
                            "charge_rate": [2.0], "current_re": [0.05], "current_im": [-0.02],
                            "charge_bus": ["origin"]}),
        parking=pd.DataFrame({"id": ["PA", "PB"], "buffer": ["A", "B"], "capacity": [1, 1], "eligible": ["all"] * 2}),
        chargers=pd.DataFrame({"id": ["HA", "VB"], "buffer": ["A", "B"], "type": ["home", "v2g"], "rate": [1.0, 1.0],
                               "current_re": [0.04, 0.03], "current_im": [-0.02, -0.01], "plugs": [1, 1],
                               "eligible": ["all", "all"], "revenue_per_unit": [0.025, 0.1]}),
        lines=pd.DataFrame({"id": ["L1", "L2"], "from": ["G", "A"], "to": ["A", "B"], "g": [10.0, 8.0],
                            "b": [-5.0, -4.0], "b_shunt": [0.0, 0.0], "tap": [1.0, 1.0], "i_max": [np.nan] * 2,
                            "one_way": [True, True]}),
        generators=pd.DataFrame({"id": ["G1"], "bus": ["G"], "cost_a": [0.01], "cost_b": [0.1], "cost_c": [0.5],
                                 "ir_min": [0.0], "ir_max": [5.0], "ii_min": [-5.0], "ii_max": [5.0]}),
        variable_generators=pd.DataFrame({"id": ["PV"], "bus": ["B"], "profile": ["sun"], "i_max": [0.1],
                                          "pf": [1.0], "price_report": [np.nan]}),
        loads=pd.DataFrame({"id": ["DA", "DB"], "bus": ["A", "B"], "g_profile": ["la", "lb"], "pf": [0.9, 1.0],
                            "alpha_p": [0.0, 0.2], "beta_p": [0.5, 0.0], "alpha_q": [0.0, 0.0], "beta_q": [0.0, 0.0],
                            "gamma": [0.1, 0.0]}),
        evs=pd.DataFrame({"id": ["E1", "E2"], "home": ["A", "B"], "battery": [4.0, 4.0], "soc_init": [3.0, 4.0],
                          "soc_final": [2.0, 4.0]}),
        itineraries=pd.DataFrame(),
        profiles=pd.DataFrame({"k": [0, 1], "sun": [0.0, 1.0], "la": [0.2, 0.3], "lb": [0.1, 0.2]}),
    )


def tiny_solution(V: np.ndarray | None = None, Ig: np.ndarray | None = None) -> OmtepfSolution:
    """E1: k=0 wireless A->B (current at A), k=1 v2g at B. E2: k=0 parks at B, k=1 queued at B."""
    fir = pd.DataFrame([
        dict(ev="E1", k=0, kind="inductive", component="R1", origin="A", dest="B", bus="A", rate=0.0,
             current_re=0.05, current_im=-0.02),
        dict(ev="E1", k=1, kind="v2g", component="VB", origin="B", dest="B", bus="B", rate=-1.0,
             current_re=-0.03, current_im=0.01),
        dict(ev="E2", k=0, kind="park", component="PB", origin="B", dest="B", bus=None, rate=0.0,
             current_re=0.0, current_im=0.0),
    ])
    idle = pd.DataFrame([dict(ev="E2", k=1, buffer="B")])
    soc = pd.DataFrame({"ev": ["E1"] * 3 + ["E2"] * 3, "k": [0, 1, 2] * 2, "soc": [3.0, 3.0, 2.0, 4.0, 4.0, 4.0]})
    if V is None:
        V = np.ones((2, 3), complex)
    if Ig is None:
        Ig = np.array([0.5 - 0.2j, 0.4 - 0.1j])
    volt = pd.DataFrame({"bus": ["G", "A", "B"] * 2, "k": [0, 0, 0, 1, 1, 1], "vr": V.real.ravel(),
                         "vi": V.imag.ravel()})
    gen = pd.DataFrame({"gen": ["G1", "G1"], "k": [0, 1], "ir": Ig.real, "ii": Ig.imag})
    return OmtepfSolution("coordinated", "tiny", 2, fir, idle, soc, volt, gen, {"solver": "hand"})


def tiny_power_flow(case: SimpleNamespace, vg: float) -> tuple[np.ndarray, np.ndarray]:
    """Independent nodal solve of the tiny case with V_G = vg (dense 3x3)."""
    y1, y2 = 10 - 5j, 8 - 4j
    Ybus = np.array([[y1, -y1, 0], [-y1, y1 + y2, -y2], [0, -y2, y2]])
    V = np.zeros((2, 3), complex)
    Ig = np.zeros(2, complex)
    sun = [0.0, 1.0]
    for k in range(2):
        yl = np.diag([0, [0.2, 0.3][k] * (1 - 1j * TAN), [0.1, 0.2][k]])
        inj = np.zeros(3, complex)
        inj[2] += 0.1 * sun[k]  # PV at B, pf 1
        if k == 0:
            inj[1] -= 0.05 - 0.02j  # wireless current drawn at A
        else:
            inj[2] += 0.03 - 0.01j  # v2g injection at B
        A = Ybus + yl
        V[k, 0] = vg
        V[k, 1:] = np.linalg.solve(A[1:, 1:], inj[1:] - A[1:, 0] * vg)
        Ig[k] = A[0] @ V[k] - inj[0]
    return V, Ig


# ------------------------------------------------------------------------------------------ tests
def test_tiny_flat_voltage_hand_values() -> None:
    case = tiny_case()
    ev = evaluate(case, tiny_solution(), check=False)
    # transport (eq. 59, 60, 63): one traversal, one queued step; revenue c_C on the net charge (2 - 1 units)
    # plus the v2g price 0.1 on the discharged unit
    assert ev.C_T == pytest.approx(0.05)
    assert ev.C_Q == pytest.approx(0.07)
    assert ev.R_C == pytest.approx(0.025 * (2 - 1) + 0.1 * 1)
    assert ev.charge_units == 2 and ev.discharge_units == 1
    # metrics over T = 2 EVs x 2 steps: D=1, P=1, C=1 (v2g plugged), W=1
    assert ev.qos == pytest.approx(0.75) and ev.utilisation == pytest.approx(0.25)
    assert ev.availability == pytest.approx(0.5) and ev.effective_utilisation == pytest.approx(0.5)
    # generator: quartic in current (eq. 62), |I|^2 = 0.29, 0.17
    assert ev.C_G == pytest.approx(0.01 * (0.29**2 + 0.17**2) + 0.1 * (0.29 + 0.17) + 2 * 0.5)
    # at |V| = 1 the power form equals the current form (omtepf.md §3.8)
    assert ev.C_G_power == pytest.approx(ev.C_G)
    assert ev.E_G == pytest.approx(0.9)
    assert ev.E_S == pytest.approx(0.1) and ev.C_S == pytest.approx(0.146 * 0.1)
    assert ev.E_D == pytest.approx(0.2 + 0.3 + 0.1 + 0.2)
    assert ev.R_D == pytest.approx(0.5 * 0.5 + 0.1 * 2 + 0.2 * (0.01 + 0.04))
    assert ev.E_C == pytest.approx(0.05 - 0.03)
    assert ev.losses == pytest.approx(0.9 + 0.1 - 0.02 - 0.8)
    assert ev.losses_lines == pytest.approx(0.0)
    t9 = ev.table_ix()
    assert t9.loc["Dispatchable generator", "unit_cost"] == pytest.approx(ev.C_G / 0.9)
    assert t9.loc["Exogenous demand", "unit_cost"] == pytest.approx(ev.R_D / 0.8)
    t8 = ev.table_viii()
    assert t8["Total"] == pytest.approx(t8.drop("Total").sum())
    assert ev.total == pytest.approx(0.05 + 0.07 + ev.C_G + 0.0146 - 0.125 - ev.R_D)
    assert ev.objective == pytest.approx(ev.total - ev.C_S)


def test_tiny_power_flow_kcl_losses_and_feasibility() -> None:
    case = tiny_case()
    V, Ig = tiny_power_flow(case, 1.03)
    sol = tiny_solution(V, Ig)
    ev = evaluate(case, sol)
    assert ev.violations == []
    # losses by energy balance equal the sum of g |V_f - V_t|^2 (independent formula)
    loss = sum(10 * abs(V[k, 0] - V[k, 1]) ** 2 + 8 * abs(V[k, 1] - V[k, 2]) ** 2 for k in range(2))
    assert ev.losses == pytest.approx(loss, rel=1e-9, abs=1e-12)
    assert ev.losses_lines == pytest.approx(loss, rel=1e-9, abs=1e-12)
    # generator power and cost from the solved current
    assert ev.E_G == pytest.approx(float(sum((1.03 * np.conj(Ig)).real)))
    i2 = np.abs(Ig) ** 2
    assert ev.C_G == pytest.approx(float(np.sum(0.01 * i2**2 + 0.1 * i2 + 0.5)))
    # demand power uses |V|^2 at the load bus
    assert ev.E_D == pytest.approx(0.2 * abs(V[0, 1]) ** 2 + 0.3 * abs(V[1, 1]) ** 2 + 0.1 * abs(V[0, 2]) ** 2
                                   + 0.2 * abs(V[1, 2]) ** 2)
    # a perturbed generator current breaks KCL at the generator bus only
    bad = tiny_solution(V, Ig + 1e-6)
    viol = check_feasibility(case, bad)
    assert {(v.check, v.entity) for v in viol} == {("kcl", "bus G")}


def test_tiny_semantics_b_changes_wireless_rate() -> None:
    # semantics B: a wireless traversal is net +charge_rate, so the fixture's SoC (net 0) is inconsistent
    case = tiny_case(wireless_net_soc=2)
    viol = check_feasibility(case, tiny_solution(*tiny_power_flow(tiny_case(), 1.03)))
    checks = {v.check for v in viol}
    assert "soc_dynamics" in checks and "firing_rate" in checks


def test_tiny_voltage_limits_and_one_way() -> None:
    case = tiny_case()
    V, Ig = tiny_power_flow(case, 1.12)  # above v_max
    viol = check_feasibility(case, tiny_solution(V, Ig))
    assert {v.check for v in viol} == {"v_max"}
    # reversing line L2's orientation makes its from-end real current negative (one-way violated), KCL unaffected
    case2 = copy.deepcopy(case)
    case2.lines.loc[1, ["from", "to"]] = ["B", "A"]
    V, Ig = tiny_power_flow(case, 1.03)
    viol = check_feasibility(case2, tiny_solution(V, Ig))
    assert {v.check for v in viol} == {"line_one_way"}
    assert {v.entity for v in viol} == {"line L2"}


def test_unknown_entities_raise_solution_error() -> None:
    case = tiny_case()
    sol = tiny_solution()
    sol.firings.loc[0, "component"] = "R9"
    with pytest.raises(SolutionError, match="R9"):
        evaluate(case, sol)
    sol = tiny_solution()
    sol.voltages = sol.voltages.iloc[1:]
    with pytest.raises(SolutionError, match="no voltage for bus 'G' at k=0"):
        evaluate(case, sol)


def test_improvement_uses_paper_convention() -> None:
    a = evaluate(tiny_case(), tiny_solution(), check=False)
    b = copy.copy(a)
    # replace totals: paper Table VIII, -31.9 uncoordinated vs -33.05 coordinated -> 3.605 %
    a.C_T, a.C_Q, a.C_G, a.C_S, a.R_C, a.R_D = 0, 0, 0, 0, 0, 31.9
    b.C_T, b.C_Q, b.C_G, b.C_S, b.R_C, b.R_D = 0, 0, 0, 0, 0, 33.05
    assert improvement(a, b) == pytest.approx(3.605, abs=1e-3)
