"""Reference uncoordinated EV schedule of symmetrica-lite, built from the spec only (test fixture).

omtepf.md §4.4 lists the reference morning routes and the "far-first" evening plan; §5.2 gives the
"charge as soon as possible" heuristic with a FIFO plug queue. This module re-implements both directly
(independently of the optimisation pipeline) and returns an :class:`OmtepfSolution` with the EV part
(firings, idle, soc) and, optionally, a flat-voltage electrical part.

Ids (EVs, lots, chargers, roads) are looked up in the case tables by their meaning (EV by home and order,
lot by buffer, home charger by buffer, road by its end buffers), so only the *numbering of buffers* of
§4.2 is assumed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from tenflow.problems.omtepf_solution import OmtepfSolution

NORTH_ROUTES = [[3, 20, 17], [2, 19, 20, 17], [4, 21, 20, 17], [1, 2, 19, 20, 17]]
ROT = {1: 5, 5: 9, 9: 13, 13: 1, 2: 6, 6: 10, 10: 14, 14: 2, 3: 7, 7: 11, 11: 15, 15: 3,
       4: 8, 8: 12, 12: 16, 16: 4, 19: 21, 21: 23, 23: 25, 25: 19, 20: 22, 22: 24, 24: 26, 26: 20, 17: 17}


def morning_routes() -> dict[int, list[int]]:
    """Home buffer -> reference morning route to 17 (§4.4)."""
    routes: dict[int, list[int]] = {}
    cur = [list(r) for r in NORTH_ROUTES]
    for _ in range(4):
        for r in cur:
            routes[r[0]] = r
        cur = [[ROT[n] for n in r] for r in cur]
    assert len(routes) == 16
    return routes


def reference_schedule(case: Any, *, K: int = 57) -> OmtepfSolution:
    """The §4.4 routes + §5.2 heuristic outcome as an uncoordinated solution (no electrical part)."""
    routes = morning_routes()
    roads = case.roads
    arc: dict[tuple[str, str], Any] = {}
    for r in roads.itertuples(index=False):
        arc[(str(r.a), str(r.b))] = r
        arc[(str(r.b), str(r.a))] = r
    lot = {str(p.buffer): str(p.id) for p in case.parking.itertuples(index=False)}
    ch = case.chargers
    home_ch = {str(c.buffer): c for c in ch[ch["type"] == "home"].itertuples(index=False)}
    com = next(ch[ch["type"] == "commercial"].itertuples(index=False))
    plugs = int(com.plugs)
    # EVs: v = 2 (h-1) + i + 1 for the i-th EV (file order) living at h
    ev_of: dict[int, str] = {}
    for h, grp in case.evs.groupby(case.evs["home"].astype(str), sort=False):
        for i, e in enumerate(grp["id"].astype(str)):
            ev_of[2 * (int(h) - 1) + i + 1] = e
    assert len(ev_of) == 32

    rows: list[dict[str, Any]] = []
    idle: list[dict[str, Any]] = []
    soc = {v: 18.0 for v in range(1, 33)}
    soc_rows: list[dict[str, Any]] = []

    def fire(v: int, k: int, kind: str, comp: str, o: str, d: str, bus: Any, rate: float,
             cur: complex, charge: float) -> None:
        rows.append(dict(ev=ev_of[v], k=k, kind=kind, component=comp, origin=o, dest=d, bus=bus, rate=rate,
                         current_re=cur.real, current_im=cur.imag, charge=charge))

    # plans: per EV a dict k -> ('travel', o, d) | ('home',) | ('work',) | ('queue',)
    plan: dict[int, dict[int, tuple]] = {v: {} for v in range(1, 33)}
    for v in range(1, 33):
        h = math.ceil(v / 2)
        route = routes[h]
        dist = len(route) - 1
        plan[v][0] = ("home",)
        for i in range(dist):
            plan[v][1 + i] = ("travel", str(route[i]), str(route[i + 1]))
        for k in range(1 + dist, 40):
            plan[v][k] = ("work",)
        # evening: far-first (§4.4)
        first_even = (v % 2 == 1)  # odd-numbered EV of a neighbourhood
        late = dist == 2 or (dist == 3 and not first_even)
        dep = 41 if late else 40
        if late:
            plan[v][40] = ("queue",)
        back = list(reversed(route))
        for i in range(dist):
            plan[v][dep + i] = ("travel", str(back[i]), str(back[i + 1]))
        for k in range(dep + dist, K):
            plan[v][k] = ("home",)

    queue17: list[int] = []
    charging17: set[int] = set()
    arrived: set[int] = set()
    for k in range(K):
        for v in range(1, 33):
            soc_rows.append(dict(ev=ev_of[v], k=k, soc=soc[v]))
        at_work: list[int] = []
        for v in range(1, 33):
            p = plan[v][k]
            h = str(math.ceil(v / 2))
            if p[0] == "travel":
                _, o, d = p
                r = arc[(o, d)]
                if r.charge_mode != "none" and soc[v] < 18:
                    cur = complex(r.current_re, r.current_im)
                    fire(v, k, "inductive", str(r.id), o, d, o, 0.0, cur, float(r.charge_rate))
                else:
                    fire(v, k, "road", str(r.id), o, d, None, -2.0, 0j, 0.0)
                    soc[v] -= 2
            elif p[0] == "home":
                if soc[v] < 18:
                    c = home_ch[h]
                    fire(v, k, "home", str(c.id), h, h, h, 1.0, complex(c.current_re, c.current_im), 1.0)
                    soc[v] += 1
                else:
                    fire(v, k, "park", lot[h], h, h, None, 0.0, 0j, 0.0)
            elif p[0] == "queue":
                idle.append(dict(ev=ev_of[v], k=k, buffer="17"))
            else:
                at_work.append(v)
        if k <= 39:
            for v in at_work:
                if v not in arrived:
                    arrived.add(v)
                    if soc[v] < 18:
                        queue17.append(v)
            charging17 = {v for v in charging17 if soc[v] < 18}
            while len(charging17) < plugs and queue17 and soc[queue17[0]] <= 16:
                charging17.add(queue17.pop(0))
            for v in at_work:
                if v in charging17:
                    fire(v, k, "com", str(com.id), "17", "17", "17", 2.0, complex(com.current_re, com.current_im), 2.0)
                    soc[v] += 2
                else:
                    fire(v, k, "park", lot["17"], "17", "17", None, 0.0, 0j, 0.0)
    for v in range(1, 33):
        soc_rows.append(dict(ev=ev_of[v], k=K, soc=soc[v]))
    return OmtepfSolution(
        mode="uncoordinated", case_name="symmetrica-lite", K=K,
        firings=pd.DataFrame(rows), idle=pd.DataFrame(idle, columns=["ev", "k", "buffer"]),
        soc=pd.DataFrame(soc_rows), info={"source": "tests/omtepf_reference.py (spec §4.4, §5.2)"},
    )


def with_flat_grid(case: Any, sol: OmtepfSolution, v: float = 1.0) -> OmtepfSolution:
    """Add a flat voltage profile V = v∠0 at every bus and the generator current that closes KCL.

    With equal voltages all line currents vanish, so KCL at the generator bus only balances the whole
    system if everything sits at the generator bus — it does not. This helper is therefore only used to
    test arithmetic that does not need KCL (costs, energies); KCL tests use :func:`solve_grid`.
    """
    K = sol.K
    buses = case.buffers.loc[case.buffers["is_bus"], "id"].astype(str).tolist()
    volt = pd.DataFrame({"bus": np.repeat(buses, K), "k": np.tile(np.arange(K), len(buses)), "vr": v, "vi": 0.0})
    gens = pd.DataFrame({"gen": np.repeat(case.generators["id"].astype(str).tolist(), K),
                         "k": np.tile(np.arange(K), len(case.generators)), "ir": 1.0, "ii": -0.5})
    return OmtepfSolution(mode=sol.mode, case_name=sol.case_name, K=K, firings=sol.firings, idle=sol.idle,
                          soc=sol.soc, voltages=volt, gen_currents=gens, info=sol.info)


def solve_grid(case: Any, sol: OmtepfSolution, v_gen: float | np.ndarray = 1.05) -> OmtepfSolution:
    """Add the power flow of every step with the generator bus voltage fixed to ``v_gen``∠0.

    Independent of tenflow's OPF: dense complex nodal equations (omtepf.md §3.7, §4.3),
    ``(Y_bus + diag(Y_load[k])) V = I_pv[k] - I_chg[k] + e_g I_g`` with ``V_g`` known, solved for the other
    buses; ``I_g`` from the generator row. Charging currents from the firings' own current columns.
    """
    K = sol.K
    buses = case.buffers.loc[case.buffers["is_bus"], "id"].astype(str).tolist()
    pos = {b: i for i, b in enumerate(buses)}
    n = len(buses)
    Y = np.zeros((n, n), complex)
    for ln in case.lines.itertuples(index=False):
        f, t = pos[str(ln[1])], pos[str(ln[2])]
        y = complex(ln.g, ln.b)
        Y[f, f] += y
        Y[t, t] += y
        Y[f, t] -= y
        Y[t, f] -= y
    prof = case.profiles.set_index("k")
    inj = np.zeros((K, n), complex)
    for pv in case.variable_generators.itertuples(index=False):
        u = pv.pf - 1j * math.sqrt(1 - pv.pf**2)
        inj[:, pos[str(pv.bus)]] += pv.i_max * prof[pv.profile].to_numpy()[:K] * u
    yl = np.zeros((K, n), complex)
    for d in case.loads.itertuples(index=False):
        G = prof[d.g_profile].to_numpy()[:K]
        yl[:, pos[str(d.bus)]] += G * (1 - 1j * math.tan(math.acos(d.pf)))
    fc = sol.firings[sol.firings["bus"].notna()]
    for r in fc.itertuples(index=False):
        inj[r.k, pos[str(r.bus)]] -= complex(r.current_re, r.current_im)
    g = pos[str(case.generators["bus"].iloc[0])]
    others = [i for i in range(n) if i != g]
    vg = np.broadcast_to(np.asarray(v_gen, dtype=float), (K,))
    V = np.zeros((K, n), complex)
    Ig = np.zeros(K, complex)
    for k in range(K):
        A = Y + np.diag(yl[k])
        V[k, g] = vg[k]
        rhs = inj[k, others] - A[np.ix_(others, [g])][:, 0] * vg[k]
        V[k, others] = np.linalg.solve(A[np.ix_(others, others)], rhs)
        Ig[k] = A[g] @ V[k] - inj[k, g]
    volt = pd.DataFrame({"bus": np.tile(buses, K), "k": np.repeat(np.arange(K), n),
                         "vr": V.real.ravel(), "vi": V.imag.ravel()})
    gens = pd.DataFrame({"gen": str(case.generators["id"].iloc[0]), "k": np.arange(K),
                         "ir": Ig.real, "ii": Ig.imag})
    return OmtepfSolution(mode=sol.mode, case_name=sol.case_name, K=K, firings=sol.firings, idle=sol.idle,
                          soc=sol.soc, voltages=volt, gen_currents=gens, info=sol.info)


def scan_generator_voltage(case: Any, sol: OmtepfSolution, n: int = 2201) -> np.ndarray:
    """Per-step global optimum of ``C_G[k] - R_D[k]`` over the generator voltage (omtepf.md §3.10-4).

    With charging fixed each step has one degree of freedom, ``V_g``; by superposition
    ``V = V_0 + V_g V_1``. Scan ``V_g`` on ``[0.88, 1.1]`` keeping points with ``0.9 <= |V| <= 1.1``,
    ``Re I_line >= 0`` and ``Re I_g >= 0``; return the best ``V_g`` per step.
    """
    grid_vals = np.linspace(0.88, 1.1, n)
    K = sol.K
    s0 = solve_grid(case, sol, 0.0)
    s1 = solve_grid(case, sol, 1.0)
    buses = case.buffers.loc[case.buffers["is_bus"], "id"].astype(str).tolist()
    nb = len(buses)

    def mats(s: OmtepfSolution) -> tuple[np.ndarray, np.ndarray]:
        v = (s.voltages["vr"].to_numpy() + 1j * s.voltages["vi"].to_numpy()).reshape(K, nb)
        return v, s.gen_currents["ir"].to_numpy() + 1j * s.gen_currents["ii"].to_numpy()

    V0, I0 = mats(s0)
    V1, I1 = mats(s1)
    V1 = V1 - V0
    I1 = I1 - I0
    pos = {b: i for i, b in enumerate(buses)}
    lf = np.array([pos[str(x)] for x in case.lines["from"]])
    lt = np.array([pos[str(x)] for x in case.lines["to"]])
    y = case.lines["g"].to_numpy() + 1j * case.lines["b"].to_numpy()
    prof = case.profiles.set_index("k")
    gen = case.generators.iloc[0]
    best = np.empty(K)
    for k in range(K):
        V = V0[k][None, :] + grid_vals[:, None] * V1[k][None, :]
        Ig = I0[k] + grid_vals * I1[k]
        il = y * (V[:, lf] - V[:, lt])
        ok = ((np.abs(V) <= 1.1 + 1e-12) & (np.abs(V) >= 0.9 - 1e-12)).all(axis=1)
        ok &= (il.real >= 0).all(axis=1) & (Ig.real >= 0)
        i2 = np.abs(Ig) ** 2
        obj = gen.cost_a * i2**2 + gen.cost_b * i2 + gen.cost_c
        for d in case.loads.itertuples(index=False):
            obj = obj - d.beta_p * prof[d.g_profile].iloc[k] * np.abs(V[:, pos[str(d.bus)]]) ** 2
        obj = np.where(ok, obj, np.inf)
        assert np.isfinite(obj).any(), f"no feasible generator voltage at k={k}"
        best[k] = grid_vals[int(np.argmin(obj))]
    return best
