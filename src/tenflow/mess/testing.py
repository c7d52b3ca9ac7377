"""Random micro instances of P_Δ for the exactness checks of mess.md §6.4.

:func:`random_micro` draws an instance directly at the array level (3–5 nodes, 1–2 sites, 1–2 types,
6–10 steps, 6 SoC levels): time-dependent travel steps, level drops (occasionally regeneration), wait and charging
arcs with hourly-like prices, plug limits, convex depth-stress wear, increasing site demand and swap windows.
Everything the optimiser sees is an array of :class:`~tenflow.mess.instance.MessInstance`, so these instances
exercise exactly the code paths of the built-in cases.
"""

from __future__ import annotations

import numpy as np

from tenflow.mess.instance import MessInstance, SiteArrays, TypeArrays, build_graph


def _phi(depth: np.ndarray) -> np.ndarray:
    return 3.0 * np.clip(depth, 0.0, None) ** 2


def random_micro(seed: int, *, n_steps: int | None = None, n_sites: int | None = None,
                 n_types: int | None = None, fleet: int | None = None, demand_scale: float = 1.0) -> MessInstance:
    """A random micro instance (deterministic for a seed).

    Parameters
    ----------
    seed
        Seed of ``numpy.random.default_rng``.
    n_steps, n_sites, n_types, fleet
        Override the drawn sizes (``fleet`` sets every type's truck count).
    demand_scale
        Multiplies the sites' demand rates (> 1 forces more swaps and couples the sites through the fleet).
    """
    rng = np.random.default_rng(seed)
    J = int(n_steps if n_steps is not None else rng.integers(6, 11))
    S, Q = J + 1, 6
    L = Q - 1
    n_nodes = int(rng.integers(3, 6))
    ns = int(n_sites if n_sites is not None else rng.integers(1, 3))
    ns = min(ns, n_nodes - 1)
    nt = int(n_types if n_types is not None else rng.integers(1, 3))
    depot = 0
    site_nodes = list(range(1, 1 + ns))
    others = list(range(1 + ns, n_nodes))
    chargers = [v for v in others if rng.random() < 0.7]
    junctions = [v for v in others if v not in chargers]
    dt = 0.5
    delta = 20.0
    price = rng.uniform(0.1, 0.5, S)
    # road arcs: depot <-> sites always, plus random others
    pairs: set[tuple[int, int]] = set()
    for s in site_nodes:
        pairs.add((depot, s))
        pairs.add((s, depot))
    for u in range(n_nodes):
        for v in range(n_nodes):
            if u != v and rng.random() < 0.45:
                pairs.add((u, v))
    pairs_l = sorted(pairs)
    km = {p: float(rng.integers(5, 25)) for p in pairs_l}
    types: list[TypeArrays] = []
    # sites
    sites: list[SiteArrays] = []
    for s in site_nodes:
        rate = rng.uniform(3.0, 10.0) * demand_scale
        start_w = int(rng.integers(0, 2))
        D = np.zeros(S)
        D[1:] = np.cumsum(np.where(np.arange(J) >= start_w, rate * rng.uniform(0.6, 1.4, J), 0.0))
        e0 = float(rng.uniform(60.0, 100.0))
        reserve = 20.0
        ws = int(rng.integers(0, 2))
        we = J - int(rng.integers(0, 2))
        dmax = int(np.ceil(np.max(np.diff(D)) / delta)) + 2
        lv = np.arange(Q)[None, :, None]
        d = np.arange(dmax)[None, None, :]
        l2 = np.clip(lv - d, 0, None)
        wear = (_phi(1.0 - l2 / L) - _phi(1.0 - lv / L)) + 0.05 * (lv / L) * dt
        W = np.broadcast_to(wear, (J, Q, dmax)).copy()
        sites.append(SiteArrays(node=s, name=f"site{s}", D=D, e0=e0, reserve_kwh=reserve,
                                endmin_kwh=reserve + float(rng.choice([0.0, 10.0])), ws=ws, we=we, W=W,
                                credit=float(rng.choice([0.0, 0.05]))))
    charger_nodes: list[object] = list(chargers) + ["depot"]
    plugs = [int(rng.choice([0, 1, 1, 2])) for _ in charger_nodes]
    res_idx = {c: r for r, c in enumerate(i for i, p in enumerate(plugs) if p > 0)}
    res_charger = np.array([i for i, p in enumerate(plugs) if p > 0], dtype=np.int32)
    res_plugs = np.array([p for p in plugs if p > 0], dtype=np.int64)
    n_sigma = int(rng.integers(1, 3))
    ntrucks = 0
    for k in range(nt):
        count = int(fleet if fleet is not None else (rng.integers(1, 3) if nt == 1 else 1 + (k == 0) * int(rng.random() < 0.3)))
        qmin = int(rng.random() < 0.2)
        qmax = L - int(rng.integers(0, 2))
        qdep = int(rng.integers(max(qmin, 2), qmax + 1))
        wage = float(rng.uniform(5.0, 20.0))
        a = int(rng.integers(0, 2))
        b = J - int(rng.integers(0, 2))
        travel = []
        q = np.arange(Q)
        for (u, v) in pairs_l:
            nsteps = rng.integers(1, 3, S).astype(np.int32)
            if rng.random() < 0.5:
                nsteps[:] = nsteps[0]
            nsteps[np.arange(S) + nsteps > J] = -1
            drop = int(np.ceil(km[(u, v)] / (25.0 + 5 * k)))
            if rng.random() < 0.1:
                drop = -1  # regeneration downhill
            qm = np.empty((S, Q), dtype=np.int32)
            cost = np.empty((S, Q))
            for j in range(S):
                dj = drop + (1 if rng.random() < 0.2 and drop >= 0 else 0)
                q2 = np.minimum(q - dj, qmax)
                okq = (q >= qmin) & (q <= qmax) & (q2 >= qmin)
                qm[j] = np.where(okq, q2, -1)
                n = max(int(nsteps[j]), 1)
                cost[j] = (km[(u, v)] * 0.41 + wage * n * dt
                           + (_phi(1.0 - np.clip(q2, 0, L) / L) - _phi(1.0 - q / L)).clip(0)
                           + 0.02 * q * n * dt)
            travel.append((u, v, nsteps, qm, cost, km[(u, v)]))
        waits = []
        for v in [depot] + site_nodes + chargers:
            c = np.broadcast_to(wage * dt + 0.02 * q * dt, (S, Q)).copy()
            waits.append((v, c))
        charges = []
        cmax = int(rng.integers(1, 3))
        for ci, cn in enumerate(charger_nodes):
            node = depot if cn == "depot" else int(cn)  # type: ignore[call-overload]
            pr = price if cn != "depot" else np.full(S, 0.2)
            for m in range(1, cmax + 1):
                q2 = q + m
                okq = (q >= qmin) & (q2 <= qmax)
                qm = np.broadcast_to(np.where(okq, q2, -1), (S, Q)).astype(np.int32)
                cost = pr[:, None] * m * delta + wage * dt + 0.02 * q[None, :] * dt + 0.01 * m
                charges.append((node, ci, res_idx.get(ci, -1), qm, cost))
        g, kind, chg, kms = build_graph(n_nodes, depot, J, Q, travel, waits, charges)
        swap = np.broadcast_to(wage * n_sigma * dt + 0.02 * q[None, None, :] * n_sigma * dt,
                               (len(sites), S, Q)).copy()
        types.append(TypeArrays(name=f"T{k}", count=count, truck_ids=[f"{k}{i}" for i in range(count)], a=a, b=b,
                                qmin=qmin, qmax=qmax, qdep=qdep, wage_h=wage, graph=g, kind=kind, charger=chg,
                                km=kms, swap_cost=swap, serves=np.ones(len(sites), dtype=bool)))
        ntrucks += count
    del junctions
    return MessInstance(name=f"micro-{seed}", n_steps=J, dt_h=dt, t0_h=7.0, n_levels=Q, delta_kwh=delta,
                        node_ids=list(range(n_nodes)), depot=depot, n_sigma=n_sigma, types=types, sites=sites,
                        charger_nodes=charger_nodes, res_charger=res_charger, res_plugs=res_plugs,
                        const=0.01 * ntrucks)
