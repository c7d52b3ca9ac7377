"""Import standard distribution feeders from pandapower as :class:`GridData` (optional extra ``grid``).

The network is converted with pandapower's own internal model (``to_ppc``, pi-model branches on the
``net.sn_mva`` base, switches resolved, transformers as pi branches with their tap ratio), so lines,
cables and transformers import with their series admittance, line charging and tap. Phase-shift angles
are dropped (``calculate_voltage_angles=False``): in a radial feeder with one source they only rotate the
downstream angles and leave every magnitude, current magnitude and power unchanged.

Loads become **admittances at nominal voltage**, ``Y = conj(S) / |V_nom|^2 = (P - jQ) / S_base``
(omtepf.md §8.4 item 2), scaled over the day by :func:`daily_load_shape`. External grids (and ``gen``
elements) become dispatchable current sources at their bus, cost ``a |I|^4 + b |I|^2 + c``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from tenflow.errors import CaseError
from tenflow.formulations.grid_data import GridData

Array = np.ndarray

#: IEEE Reliability Test System (1979), Table 4: hourly load of a winter weekday in % of the daily peak,
#: hours 0-1 ... 23-24. Used as the documented daily load shape of imported feeders.
IEEE_RTS_WINTER_WEEKDAY: tuple[float, ...] = (
    67, 63, 60, 59, 59, 60, 74, 86, 95, 96, 96, 95, 95, 95, 93, 94, 99, 100, 100, 96, 91, 83, 73, 63,
)


def daily_load_shape(K: int = 96, hourly: tuple[float, ...] = IEEE_RTS_WINTER_WEEKDAY) -> Array:
    """Load multiplier per step over one day (peak 1.0).

    Step ``k`` covers ``[24 k / K, 24 (k+1) / K)`` hours; its value is the hourly profile (IEEE RTS winter
    weekday, :data:`IEEE_RTS_WINTER_WEEKDAY`) linearly interpolated at the step's mid-time, with the hourly
    values placed at mid-hours and the day treated as periodic.
    """
    h = np.asarray(hourly, dtype=float) / max(hourly)
    t = (np.arange(K) + 0.5) * 24.0 / K
    xp = np.arange(-0.5, 24.5 + 1e-9, 1.0)
    fp = np.concatenate([[h[-1]], h, [h[0]]])
    return np.interp(t, xp, fp)


def _require_pandapower() -> Any:
    try:
        import pandapower
    except ImportError as exc:  # pragma: no cover - optional extra
        raise CaseError("pandapower is not installed: pip install 'tenflow[grid]'", code="E-EXTRA") from exc
    return pandapower


def from_pandapower(net: Any, *, K: int = 96, shape: Array | None = None, name: str = "pandapower",
                    cost_a: float = 0.0, cost_b: float = 1.0, cost_c: float = 0.0, beta_p: float = 0.0,
                    vmin: float | None = None, vmax: float | None = None, one_way: bool = False,
                    ir_max: float = 1e3) -> GridData:
    """A :class:`GridData` from a pandapower network (see module docstring).

    Parameters
    ----------
    net
        pandapower network (not modified; a deep copy is converted).
    K, shape
        Number of steps and the load multiplier per step (default :func:`daily_load_shape`).
    cost_a, cost_b, cost_c
        Generator cost in current, per step (omtepf.md eq. 62).
    beta_p
        Demand revenue per unit of active load power (eq. 65); 0 = none.
    vmin, vmax
        Voltage band for all buses; default: the network's ``min_vm_pu``/``max_vm_pu`` per bus (0.9/1.1
        when absent). A band of zero width (e.g. ``case33bw``'s slack bus, 1.0/1.0) fixes the magnitude.
    one_way
        One-way flag of all branches (``Re I_from >= 0``).
    ir_max
        Upper bound of generator currents (``0 <= Ir <= ir_max``, ``|Ii| <= ir_max``).
    """
    pp = _require_pandapower()
    import copy

    from pandapower.converter.pypower.to_ppc import to_ppc
    from pandapower.pypower.idx_brch import BR_B, BR_R, BR_STATUS, BR_X, F_BUS, T_BUS, TAP
    from pandapower.pypower.idx_bus import BS, BUS_TYPE, GS

    net = copy.deepcopy(net)
    del pp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ppc = to_ppc(net, calculate_voltage_angles=False, trafo_model="pi", init="flat")
    base = float(ppc["baseMVA"])
    bus = ppc["bus"]
    br = ppc["branch"]
    lookup = np.asarray(net._pd2ppc_lookups["bus"])
    active = bus[:, BUS_TYPE].real != 4
    ppc_ids = np.flatnonzero(active)
    # labels: pandapower bus index where the ppc bus maps back to one, else "aux<i>" (open-switch buses)
    back: dict[int, Any] = {}
    for pd_idx in net.bus.index:
        if pd_idx < len(lookup) and lookup[pd_idx] >= 0:
            back.setdefault(int(lookup[pd_idx]), int(pd_idx))
    labels = [back.get(int(i), f"aux{int(i)}") for i in ppc_ids]
    pos = {int(b): p for p, b in enumerate(ppc_ids)}
    on = (br[:, BR_STATUS].real > 0) & np.isin(br[:, F_BUS].real.astype(int), ppc_ids) \
        & np.isin(br[:, T_BUS].real.astype(int), ppc_ids)
    br = br[on]
    z = br[:, BR_R].real + 1j * br[:, BR_X].real
    y = 1.0 / z
    tap = br[:, TAP].real
    tap = np.where(tap == 0, 1.0, tap)
    N = len(ppc_ids)
    shape_arr = daily_load_shape(K) if shape is None else np.asarray(shape, dtype=float)
    if shape_arr.shape != (K,):
        raise CaseError(f"load shape has {shape_arr.shape} entries, expected K={K}", field="shape",
                        code="E-PROFILE-LENGTH")
    ld = net.load[net.load.in_service]
    lb = np.array([pos[int(lookup[b])] for b in ld.bus])
    P = (ld.p_mw * ld.scaling).to_numpy(dtype=float) / base
    Q = (ld.q_mvar * ld.scaling).to_numpy(dtype=float) / base
    G = np.outer(shape_arr, P)
    B = np.outer(shape_arr, -Q)
    gens = [(f"ext_grid{i}", int(lookup[b])) for i, b in zip(net.ext_grid.index, net.ext_grid.bus, strict=True)
            if net.ext_grid.in_service[i]]
    gens += [(f"gen{i}", int(lookup[b])) for i, b in zip(net.gen.index, net.gen.bus, strict=True)
             if net.gen.in_service[i]]
    if not gens:
        raise CaseError(f"pandapower network '{name}' has no ext_grid/gen", code="E-GRID-NOGEN")
    bus_ppc = ppc_ids
    if vmin is None or vmax is None:
        nb = net.bus
        vlo = nb["min_vm_pu"] if "min_vm_pu" in nb else pd.Series(0.9, index=nb.index)
        vhi = nb["max_vm_pu"] if "max_vm_pu" in nb else pd.Series(1.1, index=nb.index)
        vmin_a = np.full(N, 0.9)
        vmax_a = np.full(N, 1.1)
        for pd_idx in nb.index:
            p = pos.get(int(lookup[pd_idx]), None) if lookup[pd_idx] >= 0 else None
            if p is not None:
                vmin_a[p] = float(vlo[pd_idx]) if np.isfinite(vlo[pd_idx]) else 0.9
                vmax_a[p] = float(vhi[pd_idx]) if np.isfinite(vhi[pd_idx]) else 1.1
        vmin_arr = vmin_a if vmin is None else np.full(N, vmin)
        vmax_arr = vmax_a if vmax is None else np.full(N, vmax)
    else:
        vmin_arr, vmax_arr = np.full(N, vmin), np.full(N, vmax)
    shunt = (bus[bus_ppc, GS].real + 1j * bus[bus_ppc, BS].real) / base
    grid = GridData(
        buses=pd.Index(labels, name="bus"), steps=pd.RangeIndex(K, name="k"),
        line_ids=pd.Index([f"br{i}" for i in np.flatnonzero(on)], name="line"),
        line_from=np.array([pos[int(b)] for b in br[:, F_BUS].real]),
        line_to=np.array([pos[int(b)] for b in br[:, T_BUS].real]),
        line_g=y.real, line_b=y.imag, line_b_shunt=br[:, BR_B].real, line_tap=tap,
        line_one_way=np.full(len(br), one_way),
        gen_ids=pd.Index([g for g, _ in gens], name="generator"), gen_bus=np.array([pos[b] for _, b in gens]),
        gen_cost_a=cost_a, gen_cost_b=cost_b, gen_cost_c=cost_c, gen_ir_min=0.0, gen_ir_max=ir_max,
        gen_ii_min=-ir_max, gen_ii_max=ir_max,
        load_ids=pd.Index([str(n) if isinstance(n, str) and n else f"load{i}" for i, n in zip(ld.index, ld.name,
                                                                                              strict=True)],
                          name="load"),
        load_bus=lb, load_G=G, load_B=B, load_beta_p=beta_p, bus_shunt=shunt, vmin=vmin_arr, vmax=vmax_arr,
        secant_theta_deg=0.0, ref_bus=pos[gens[0][1]], name=name,
        base={"s_mva": base, "step_minutes": 1440.0 / K, "start_time": "00:00", "source": "pandapower", "load_shape": "IEEE RTS winter weekday" if shape is None
              else "user"},
    )
    return grid.validate()


def case33bw(K: int = 96, **kwargs: Any) -> GridData:
    """pandapower's ``case33bw`` (Baran & Wu 33-bus feeder) with the daily load shape, see
    :func:`from_pandapower` (slack magnitude fixed at 1.0 by the case's own bus limits)."""
    pp = _require_pandapower()
    import pandapower.networks as pn

    del pp
    kwargs.setdefault("name", "case33bw")
    return from_pandapower(pn.case33bw(), K=K, **kwargs)


def cigre_mv(K: int = 96, **kwargs: Any) -> GridData:
    """pandapower's CIGRE medium-voltage benchmark network (``create_cigre_network_mv``, no DER) with
    the daily load shape, see :func:`from_pandapower` (band 0.9–1.1 at every bus)."""
    _require_pandapower()
    import pandapower.networks as pn

    kwargs.setdefault("name", "cigre-mv")
    kwargs.setdefault("vmin", 0.9)
    kwargs.setdefault("vmax", 1.1)
    return from_pandapower(pn.create_cigre_network_mv(with_der=False), K=K, **kwargs)


#: pandapower feeders available by name in ``tenflow opf NAME`` and :func:`tenflow.opf.solve`
FEEDERS: dict[str, Callable[..., GridData]] = {"case33bw": case33bw, "cigre-mv": cigre_mv}
