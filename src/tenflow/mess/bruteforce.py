"""Brute-force checker of P_Δ for micro instances (mess.md §6.4).

Independent of the DP kernels and the master: exhaustive enumeration of trip signatures (start, arrival,
delivered level; swap, removed level, end; plug uses) by propagating every signature label along every arc choice
(one cheapest label per state × signature), exhaustive chains per site (every swap sequence, one cheapest chain per
constraint signature), and a fleet/plug check over all combinations of chains. Exponential: micro instances only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tenflow.mess.instance import EPS, TOL_KWH, MessInstance, site_walk

Plugs = tuple[tuple[int, int], ...]


@dataclass
class BruteResult:
    objective: float | None  # None: infeasible
    n_chain_signatures: list[int]
    chains: list[tuple[float, np.ndarray, np.ndarray, list[tuple[int, int, int, int, int, int, int]]]] | None = None


def _labels_out(inst: MessInstance, k: int) -> dict[tuple[int, int, int], dict[tuple[int, Plugs], float]]:
    """Cheapest partial trip per (state) and signature (start step, plugs), by exhaustive label propagation."""
    ty = inst.types[k]
    g = ty.graph
    S = inst.S
    lab: dict[tuple[int, int, int], dict[tuple[int, Plugs], float]] = {}
    for j0 in range(ty.a, S):
        lab.setdefault((inst.idle, j0, ty.qdep), {})[(j0, ())] = 0.0
    _propagate(g, lab, S)
    return lab


def _labels_back(inst: MessInstance, k: int, start: tuple[int, int, int]) -> dict[tuple[int, Plugs], float]:
    """Cheapest completion from ``start`` to a trip end per signature (end step, plugs)."""
    ty = inst.types[k]
    g = ty.graph
    lab: dict[tuple[int, int, int], dict[tuple[int, Plugs], float]] = {start: {(-1, ()): 0.0}}
    _propagate(g, lab, inst.S)
    out: dict[tuple[int, Plugs], float] = {}
    for (v, j, q), d in lab.items():
        if v == inst.depot and j <= ty.b and ty.qdep <= q <= ty.qmax and (v, j, q) != start:
            for (_x, p), c in d.items():
                key = (j, p)
                if c < out.get(key, math.inf):
                    out[key] = c
    return out


def _propagate(g, lab, S: int) -> None:  # type: ignore[no-untyped-def]
    for j in range(S):
        states = [s for s in lab if s[1] == j]
        for v, _j, q in sorted(states):
            for sig, c in list(lab[(v, j, q)].items()):
                for a in range(g.n_arcs):
                    if int(g.frm[a]) != v:
                        continue
                    n = int(g.nsteps[a, j])
                    if n < 0:
                        continue
                    q2 = int(g.qmap[a, j, q])
                    if q2 < 0:
                        continue
                    r = int(g.res[a])
                    p2 = tuple(sorted(sig[1] + ((r, j),))) if r >= 0 else sig[1]
                    key2 = (int(g.to[a]), j + n, q2)
                    c2 = c + float(g.cost[a, j, q])
                    d = lab.setdefault(key2, {})
                    s2 = (sig[0], p2)
                    if c2 < d.get(s2, math.inf):
                        d[s2] = c2


def solve_bruteforce(inst: MessInstance, max_signatures: int = 2_000_000) -> BruteResult:
    """Exact optimum of P_Δ by enumeration (returns objective incl. the constant, or None if infeasible)."""
    K, J, S = len(inst.types), inst.n_steps, inst.S
    ns, delta = inst.n_sigma, inst.delta_kwh
    outs = [_labels_out(inst, k) for k in range(K)]
    back_cache: dict[tuple[int, int, int, int], dict[tuple[int, Plugs], float]] = {}

    def backs(k: int, node: int, j: int, b: int) -> dict[tuple[int, Plugs], float]:
        key = (k, node, j, b)
        if key not in back_cache:
            back_cache[key] = _labels_back(inst, k, (node, j, b))
        return back_cache[key]

    fleet = np.array([t.count for t in inst.types])[:, None]
    plugcap = inst.res_plugs[:, None]
    per_site: list[list[tuple[float, np.ndarray, np.ndarray]]] = []
    for i, site in enumerate(inst.sites):
        # suffix sets: for a pack installed at step j0 with energy eb, every distinct signature (occupancy, plugs)
        # of the rest of the chain with its cheapest cost (memoised over the installed state)
        memo: dict[tuple[int, int], dict[bytes, tuple[float, np.ndarray, np.ndarray]]] = {}

        def suffix(eb: float, j0: int, key: tuple[int, int], site=site, i=i, memo=memo
                   ) -> dict[bytes, tuple[float, np.ndarray, np.ndarray]]:
            if key in memo:
                return memo[key]
            out: dict[bytes, tuple[float, np.ndarray, np.ndarray]] = {}

            def put(c: float, o: np.ndarray, p: np.ndarray) -> None:
                if np.any(o > fleet) or np.any(p > plugcap):
                    return  # exceeds a capacity: no combination of chains can use it
                sk = o.tobytes() + p.tobytes()
                if sk not in out or c < out[sk][0]:
                    out[sk] = (c, o, p)
                    if len(out) > max_signatures:
                        raise RuntimeError("brute force: too many chain signatures")

            es, _ls, acc = site_walk(site, delta, j0, eb, S - 1)
            if min(es) >= site.reserve_kwh - TOL_KWH and es[-1] >= site.endmin_kwh - TOL_KWH:
                put(acc - site.credit * es[-1], np.zeros((K, J), dtype=np.int64),
                    np.zeros((inst.n_res, S), dtype=np.int64))
            for jp in range(max(j0 + ns, site.ws + ns), min(site.we, S - 1) + 1):
                es, _ls, acc = site_walk(site, delta, j0, eb, jp)
                if min(es) < site.reserve_kwh - TOL_KWH:
                    break
                b = int(math.floor(es[-1] / delta + EPS))
                ja = jp - ns
                for k in range(K):
                    ty = inst.types[k]
                    if not ty.serves[i] or b < ty.qmin or b > ty.qmax:
                        continue
                    bl = backs(k, site.node, jp, b)
                    if not bl:
                        continue
                    for q in range(inst.n_levels):
                        ol = outs[k].get((site.node, ja, q))
                        if not ol:
                            continue
                        rest = suffix(q * delta, jp, (jp, q))
                        if not rest:
                            continue
                        sw = float(ty.swap_cost[i, ja, q])
                        for (st, po), co in ol.items():
                            for (je, pb), cb in bl.items():
                                occ = np.zeros((K, J), dtype=np.int64)
                                occ[k, st:je] += 1
                                pl = np.zeros((inst.n_res, S), dtype=np.int64)
                                for r, jj in po + pb:
                                    pl[r, jj] += 1
                                c0 = acc + co + sw + cb
                                for cr, orr, prr in rest.values():
                                    put(c0 + cr, occ + orr, pl + prr)
            memo[key] = out
            return out

        best = suffix(site.e0, 0, (-1, -1))
        per_site.append(sorted(best.values(), key=lambda x: x[0]))
    counts = [len(x) for x in per_site]
    if any(c == 0 for c in counts):
        return BruteResult(None, counts)
    best_tot = math.inf
    rem = [0.0] * (len(per_site) + 1)
    for i in range(len(per_site) - 1, -1, -1):
        rem[i] = rem[i + 1] + per_site[i][0][0]

    def combo(i: int, cost: float, occ: np.ndarray, plugs: np.ndarray) -> None:
        nonlocal best_tot
        if i == len(per_site):
            best_tot = min(best_tot, cost)
            return
        for c, o, p in per_site[i]:
            if cost + c + rem[i + 1] >= best_tot:
                break
            o2, p2 = occ + o, plugs + p
            if np.all(o2 <= fleet) and np.all(p2 <= plugcap):
                combo(i + 1, cost + c, o2, p2)

    combo(0, 0.0, np.zeros((K, J), dtype=np.int64), np.zeros((inst.n_res, S), dtype=np.int64))
    if math.isinf(best_tot):
        return BruteResult(None, counts)
    return BruteResult(best_tot + inst.const, counts)
