"""Power-flow consistency (omtepf.md §8.4 item 1): every step of the OPF solution, re-simulated with
pandapower's Newton power flow, gives the same bus voltages (within 1e-4 p.u.) and slack injection.

pandapower model: admittance loads as constant-impedance shunts / loads (``const_z_*_percent = 100``),
fixed current injections (PV, charging) as constant-current loads sized so that they draw exactly our
current at our voltage, slack (``ext_grid``) at the generator bus with our |V| and angle.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

import tenflow.opf as opf
from _opf_cases import symmetrica_with_charging

pp = pytest.importorskip("pandapower", reason="pandapower (extra 'grid') is not installed")
pn = pytest.importorskip("pandapower.networks")


def _runpp(net) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, tolerance_mva=1e-11, calculate_voltage_angles=False, init="flat", max_iteration=50)


def _net_from_grid(g: opf.GridData):
    """pandapower net of a GridData with series/pi lines, vn = 1 kV and sn = 1 MVA (so Z_base = 1 ohm)."""
    assert np.all(g.line_tap == 1.0)
    net = pp.create_empty_network(sn_mva=1.0)
    for b in g.buses:
        pp.create_bus(net, vn_kv=1.0, name=str(b))
    z = 1.0 / (g.line_g + 1j * g.line_b)
    for i in range(g.n_line):
        pp.create_line_from_parameters(net, int(g.line_from[i]), int(g.line_to[i]), length_km=1.0,
                                       r_ohm_per_km=z[i].real, x_ohm_per_km=z[i].imag,
                                       c_nf_per_km=g.line_b_shunt[i] / (2 * np.pi * 50) * 1e9, max_i_ka=1e3)
    return net


def _check_step(net, V_ours: np.ndarray, atol: float = 1e-4) -> float:
    _runpp(net)
    vm = net.res_bus.vm_pu.to_numpy()
    va = np.deg2rad(net.res_bus.va_degree.to_numpy())
    V_pp = vm * np.exp(1j * va)
    err = float(np.max(np.abs(V_pp - V_ours)))
    assert err < atol
    return err


def test_symmetrica_every_step_matches_pandapower_power_flow():
    g = symmetrica_with_charging()
    res = opf.solve(g)
    inj = g.fixed_injection()
    Yd = g.load_admittance()
    N = g.n_bus
    net = _net_from_grid(g)
    for n in range(N):  # one shunt and one constant-current load per bus, values set per step below
        pp.create_shunt(net, n, p_mw=0.0, q_mvar=0.0, vn_kv=1.0)
        pp.create_load(net, n, p_mw=0.0, q_mvar=0.0, const_i_p_percent=100, const_i_q_percent=100)
    gb = int(g.gen_bus[0])
    pp.create_ext_grid(net, gb, vm_pu=1.0)
    errs = []
    for s in range(g.K):
        V = res.V[s]
        net.shunt["p_mw"] = Yd[s].real
        net.shunt["q_mvar"] = -Yd[s].imag
        S_load = -V * np.conj(inj[s])  # consumption of the injected current at our voltage
        net.load["p_mw"] = S_load.real / np.abs(V)  # const-current load: S = S_nom |V|
        net.load["q_mvar"] = S_load.imag / np.abs(V)
        net.ext_grid["vm_pu"] = abs(V[gb])
        net.ext_grid["va_degree"] = np.rad2deg(np.angle(V[gb]))
        errs.append(_check_step(net, V))
        S_gen = V[gb] * np.conj(res.Ig[s, 0])
        assert net.res_ext_grid.p_mw.iat[0] == pytest.approx(S_gen.real, abs=1e-6)
        assert net.res_ext_grid.q_mvar.iat[0] == pytest.approx(S_gen.imag, abs=1e-6)
    assert max(errs) < 1e-4


def _check_feeder(net0, grid: opf.GridData, res: opf.OPFResult, steps) -> float:
    """Re-simulate the ORIGINAL pandapower feeder with its loads scaled by the daily shape, as const-Z."""
    from tenflow.case.pandapower_import import daily_load_shape

    shape = daily_load_shape(grid.K)
    lab = {b: i for i, b in enumerate(grid.buses)}
    errs = []
    for s in steps:
        net = copy.deepcopy(net0)
        net.load["scaling"] = net0.load.scaling * shape[s]
        net.load["const_z_p_percent"] = 100.0
        net.load["const_z_q_percent"] = 100.0
        slack = lab[int(net.ext_grid.bus.iat[0])]
        net.ext_grid["vm_pu"] = abs(res.V[s, slack])
        net.ext_grid["va_degree"] = np.rad2deg(np.angle(res.V[s, slack]))
        _runpp(net)
        pos = [lab[b] for b in net.res_bus.index if b in lab]
        vm = net.res_bus.vm_pu.loc[[b for b in net.res_bus.index if b in lab]].to_numpy()
        va = np.deg2rad(net.res_bus.va_degree.loc[[b for b in net.res_bus.index if b in lab]].to_numpy())
        err = float(np.max(np.abs(vm * np.exp(1j * va) - res.V[s, pos])))
        assert err < 1e-4, (s, err)
        errs.append(err)
    return max(errs)


@pytest.mark.slow
def test_case33bw_every_step_matches_pandapower_power_flow():
    from tenflow.case.pandapower_import import case33bw

    g = case33bw(K=96)
    res = opf.solve(g)
    assert np.abs(res.V).min() < 0.95  # a real voltage drop is being compared
    _check_feeder(pn.case33bw(), g, res, range(96))


def test_cigre_mv_matches_pandapower_power_flow_with_transformers():
    from tenflow.case.pandapower_import import cigre_mv

    g = cigre_mv(K=24)
    assert np.any(g.line_b_shunt > 0)  # cable charging (pi model); transformers as pi branches
    res = opf.solve(g)
    _check_feeder(pn.create_cigre_network_mv(with_der=False), g, res, range(0, 24, 3))
