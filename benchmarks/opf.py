"""OPF benchmark: tenflow multi-period IV-ACOPF vs a pandapower ``runopp`` loop (issue 3).

Usage: ``.venv/bin/python benchmarks/opf.py``. Prints a table and writes ``benchmarks/results/opf.json``.

Measured, in one run on the same machine (median of ``REPEAT`` runs for tenflow; one loop for pandapower):

1. symmetrica-lite (built-in case, 57 steps, CCP on the demand revenue): build and solve time.
2. case33bw, 96 steps (IEEE RTS daily load shape, :func:`tenflow.case.pandapower_import.daily_load_shape`),
   tenflow with loads as admittances at nominal voltage (the importer's model).
3. pandapower ``runopp`` looping over the same 96 steps of case33bw with its own load model (constant power),
   generator cost ``P^2 + Q^2`` [MW^2] (``cp2 = cq2 = 1``). tenflow uses the same cost in current,
   ``b |I|^2`` with ``b = S_base^2``, identical to ``|S|^2`` at the slack voltage 1.0 p.u. that both fix.
   With nothing else controllable, both OPFs reduce to a power flow; the objective gap is the load model:
   constant impedance consumes ``P |V|^2 < P`` below 1 p.u.
4. tenflow again with the admittances calibrated at pandapower's voltages (``Y = conj(S) / |V_pp|^2``, omtepf.md
   §8.4 item 2): the load models then coincide at the solution and the objectives must agree.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

import tenflow
from tenflow.formulations.grid_data import grid_from_case
from tenflow.problems import opf

REPEAT = 5
OUT = Path(__file__).resolve().parent / "results" / "opf.json"


def _median_runs(grid: opf.GridData, **kw: object) -> tuple[opf.OPFResult, float, float]:
    builds, solves, res = [], [], None
    for _ in range(REPEAT):
        res = opf.solve(grid, **kw)  # type: ignore[arg-type]
        builds.append(res.build_s)
        solves.append(res.solve_s)
    assert res is not None
    return res, statistics.median(builds), statistics.median(solves)


def main() -> dict[str, object]:
    warnings.simplefilter("ignore")
    import pandapower as pp
    import pandapower.networks as pn

    from tenflow.case.pandapower_import import case33bw, daily_load_shape

    out: dict[str, object] = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                                          "cpus": os.cpu_count(), "load_average_1min_at_start": os.getloadavg()[0]}}
    # 1. symmetrica-lite
    t0 = time.perf_counter()
    sym = grid_from_case(tenflow.cases.load("symmetrica-lite"))
    t_extract = time.perf_counter() - t0
    opf.solve(sym)  # warm-up (imports)
    res_s, b_s, s_s = _median_runs(sym)
    out["symmetrica_lite"] = {"steps": sym.K, "extract_s": t_extract, "build_s": b_s, "solve_s": s_s,
                              "total_s": b_s + s_s, "ccp_solves": res_s.iterations, "objective": res_s.objective,
                              "program": res_s.info["program"]}
    # 1b. symmetrica-lite with the charging currents of the uncoordinated schedule (more CCP iterations:
    # interior optima at the charging peaks converge linearly)
    from tenflow.formulations import charging as CH
    from tenflow.formulations import transport as TR
    from tenflow.problems import uncoordinated as U

    case = tenflow.cases.load("symmetrica-lite")
    fleet = TR.build_fleet(case)
    firings, _, _, _ = U.schedule(case, fleet)
    J = CH.currents_of_firings(fleet, firings, case.K)
    extra = np.zeros((case.K, sym.n_bus), dtype=complex)
    np.add.at(extra.T, sym.buses.get_indexer([str(b) for b in fleet.bus_ids]), -J.T)
    unc = sym.with_options(extra_injection=extra)
    res_u, b_u, s_u = _median_runs(unc)
    out["symmetrica_lite_uncoordinated_charging"] = {"build_s": b_u, "solve_s": s_u, "total_s": b_u + s_u,
                                                     "ccp_solves": res_u.iterations, "objective": res_u.objective}
    # 2. case33bw, 96 steps, tenflow
    K = 96
    base = 10.0
    g33 = case33bw(K=K, cost_b=base**2)
    res_t, b_t, s_t = _median_runs(g33, revenue="none")
    out["case33bw_tenflow"] = {"steps": K, "build_s": b_t, "solve_s": s_t, "total_s": b_t + s_t,
                               "objective": res_t.objective, "vm_min": float(np.abs(res_t.V).min())}
    # 3. pandapower runopp loop
    shape = daily_load_shape(K)
    net = pn.case33bw()
    net.poly_cost.loc[:, ["cp0_eur", "cp1_eur_per_mw", "cp2_eur_per_mw2", "cq0_eur", "cq1_eur_per_mvar",
                          "cq2_eur_per_mvar2"]] = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    scaling0 = net.load.scaling.copy()
    pp.runopp(net, verbose=False)  # warm-up (numba JIT)
    costs, vms = [], []
    t0 = time.perf_counter()
    for k in range(K):
        net.load["scaling"] = scaling0 * shape[k]
        pp.runopp(net, verbose=False)
        costs.append(float(net.res_cost))
        vms.append(net.res_bus.vm_pu.to_numpy().copy())
    t_pp = time.perf_counter() - t0
    obj_pp = float(np.sum(costs))
    out["case33bw_pandapower_runopp"] = {"steps": K, "total_s": t_pp, "objective": obj_pp,
                                         "vm_min": float(np.min(vms))}
    # 4. tenflow with admittances calibrated at pandapower's voltages

    vm_pp = np.array(vms)[:, [net.bus.index.get_loc(b) for b in g33.buses]]
    vl = vm_pp[:, g33.load_bus]
    cal = g33.with_options(load_G=g33.load_G / vl**2, load_B=g33.load_B / vl**2)
    res_c, b_c, s_c = _median_runs(cal, revenue="none")
    vm_err = float(np.max(np.abs(np.abs(res_c.V) - vm_pp)))
    out["case33bw_tenflow_calibrated"] = {"build_s": b_c, "solve_s": s_c, "objective": res_c.objective,
                                          "max_vm_diff_to_pandapower": vm_err}
    out["speedup_vs_pandapower"] = t_pp / (b_t + s_t)
    out["objective_rel_diff_nominal_admittance"] = (res_t.objective - obj_pp) / obj_pp
    out["objective_rel_diff_calibrated_admittance"] = (res_c.objective - obj_pp) / obj_pp
    out["note"] = ("objective difference with admittances at nominal voltage = load model (constant impedance "
                   "consumes P|V|^2 < P below 1 p.u., so less generation); with admittances calibrated at "
                   "pandapower's voltages the two OPFs coincide.")
    rows = [
        (f"symmetrica-lite, 57 steps, CCP ({res_s.iterations} solves)", b_s, s_s, b_s + s_s, res_s.objective),
        (f"symmetrica-lite + uncoordinated charging, CCP ({res_u.iterations} solves)", b_u, s_u, b_u + s_u,
         res_u.objective),
        ("case33bw, 96 steps, tenflow (Y at nominal V)", b_t, s_t, b_t + s_t, res_t.objective),
        ("case33bw, 96 steps, pandapower runopp loop", float("nan"), float("nan"), t_pp, obj_pp),
        ("case33bw, 96 steps, tenflow (Y at pandapower V)", b_c, s_c, b_c + s_c, res_c.objective),
    ]
    print("| run | build s | solve s | total s | objective |")
    print("|---|---|---|---|---|")
    for name, b, s, tot, obj in rows:
        print(f"| {name} | {b:.3f} | {s:.3f} | {tot:.3f} | {obj:.6g} |")
    print(f"speed-up tenflow vs pandapower loop: {out['speedup_vs_pandapower']:.1f}x; objective difference "
          f"{100 * out['objective_rel_diff_nominal_admittance']:+.2f} % (nominal-voltage admittances), "
          f"{100 * out['objective_rel_diff_calibrated_admittance']:+.4f} % (calibrated); "
          f"max |V| difference calibrated {vm_err:.2e} p.u.")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    from tenflow.results.io import write_json

    out["machine"]["load_average_1min_at_end"] = os.getloadavg()[0]  # type: ignore[index]
    write_json(OUT, json.loads(json.dumps(out, default=float)))
    return out


if __name__ == "__main__":
    main()
