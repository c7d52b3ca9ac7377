"""Monolithic MILP M_Δ of P_Δ (mess.md §6.4), solved by HiGHS — an independent check of the decomposition.

Integer flows of each type on its time–space–SoC graph extended by a phase φ ∈ {out, back}: trips start on arcs
leaving the idle pseudo-node (depot before the start, steps ``>= a_k``), run in phase *out* to a site, cross a
swap arc ``(i, j_a, q, out) → (i, j_a + n_σ, b, back)`` and end at ``(depot, j <= b_k, q ∈ [q_dep, q_max], back)``.
Binary chain variables per site — transition "pack from source s removed at completion j'" (s = initial pack or
installed (j, q)), end "pack from s lasts to the end" — linked to the swap flows:
Σ_b swap(i, j_a, q, b) = installed(j_a + n_σ, q) = Σ_{j'} t((j_a + n_σ, q), j') + end(j_a + n_σ, q), and
Σ_q swap(i, j'−n_σ, q, b) = Σ_{s: level at removal = b} t(s, j'). Fleet rows per type and step, plug rows per
charger and step. Same objective as §6.1. Small instances only (micro cases, mess-tiny).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tenflow.errors import SolverError
from tenflow.mess.instance import EPS, TOL_KWH, MessInstance, site_walk
from tenflow.solve import HighsSolver, Program


@dataclass
class MilpResult:
    status: str  # "optimal" | "infeasible" | other HiGHS status
    objective: float | None
    n_vars: int
    n_rows: int


def solve_milp(inst: MessInstance, time_limit: float = 120.0) -> MilpResult:
    """Build and solve M_Δ; objective includes the instance constant."""
    S, Q = inst.S, inst.n_levels
    ns, delta = inst.n_sigma, inst.delta_kwh
    cost: list[float] = []
    integer: list[bool] = []
    ub: list[float] = []
    rows: dict[tuple, list[tuple[int, float]]] = {}  # constraint key -> [(var, coef)]
    rhs: dict[tuple, tuple[float, float]] = {}

    def var(c: float, ub_: float = np.inf) -> int:
        cost.append(float(c))
        integer.append(True)
        ub.append(ub_)
        return len(cost) - 1

    def coef(key: tuple, v: int, c: float, lo: float = 0.0, hi: float = 0.0) -> None:
        rows.setdefault(key, []).append((v, c))
        rhs.setdefault(key, (lo, hi))

    for k, ty in enumerate(inst.types):
        g = ty.graph
        for a in range(g.n_arcs):
            u, v = int(g.frm[a]), int(g.to[a])
            r = int(g.res[a])
            for j in range(S):
                n = int(g.nsteps[a, j])
                if n < 0:
                    continue
                if u == inst.idle and j < ty.a:
                    continue
                for q in (range(Q) if u != inst.idle else (ty.qdep,)):
                    q2 = int(g.qmap[a, j, q])
                    if q2 < 0:
                        continue
                    phases = (0,) if u == inst.idle else (0, 1)
                    for ph in phases:
                        x = var(float(g.cost[a, j, q]))
                        if u != inst.idle:
                            coef(("flow", k, ph, u, j, q), x, -1.0)
                        coef(("flow", k, ph, v, j + n, q2), x, 1.0)
                        for jj in range(j, j + n):
                            coef(("fleet", k, jj), x, 1.0, -np.inf, float(ty.count))
                        if r >= 0:
                            coef(("plug", r, j), x, 1.0, -np.inf, float(inst.res_plugs[r]))
        # trip ends
        for j in range(0, ty.b + 1):
            for q in range(ty.qdep, ty.qmax + 1):
                z = var(0.0)
                coef(("flow", k, 1, inst.depot, j, q), z, -1.0)
    # sites: swaps and chains
    for i, site in enumerate(inst.sites):
        node = site.node
        # chain sources: init and installed (j, q)
        sources: list[tuple[tuple, float, int]] = [(("init",), site.e0, 0)]
        for j in range(ns, S):
            for q in range(Q):
                sources.append(((j, q), q * delta, j))
        for key, eb, j0 in sources:
            out_terms: list[int] = []
            es, _ls, acc = site_walk(site, delta, j0, eb, S - 1) if j0 <= S - 1 else ([eb], [], 0.0)
            # transitions
            for jp in range(max(j0, site.ws) + ns, min(site.we, S - 1) + 1):
                es_p, _l, acc_p = site_walk(site, delta, j0, eb, jp)
                if min(es_p) < site.reserve_kwh - TOL_KWH:
                    break
                b = int(math.floor(es_p[-1] / delta + EPS))
                t = var(acc_p, 1.0)
                out_terms.append(t)
                coef(("removal", i, jp, b), t, 1.0)
            if min(es) >= site.reserve_kwh - TOL_KWH and es[-1] >= site.endmin_kwh - TOL_KWH:
                e = var(acc - site.credit * es[-1], 1.0)
                out_terms.append(e)
            if key == ("init",):
                for t in out_terms:
                    coef(("chain", i, "init"), t, 1.0, 1.0, 1.0)
                if not out_terms:
                    coef(("chain", i, "init"), var(0.0, 0.0), 1.0, 1.0, 1.0)
            else:
                for t in out_terms:
                    coef(("chain", i, key), t, -1.0)
                if not out_terms:
                    coef(("chain", i, key), var(0.0, 0.0), -1.0)
        for k, ty in enumerate(inst.types):
            if not ty.serves[i]:
                continue
            for ja in range(site.ws, S - ns):
                js = ja + ns
                if js > site.we:
                    break
                for q in range(ty.qmin, ty.qmax + 1):
                    for b in range(ty.qmin, ty.qmax + 1):
                        y = var(float(ty.swap_cost[i, ja, q]))
                        coef(("flow", k, 0, node, ja, q), y, -1.0)
                        coef(("flow", k, 1, node, js, b), y, 1.0)
                        for jj in range(ja, js):
                            coef(("fleet", k, jj), y, 1.0, -np.inf, float(ty.count))
                        coef(("chain", i, (js, q)), y, 1.0)
                        coef(("removal", i, js, b), y, -1.0)
    # removal rows must exist for every swap (b never reachable -> forces y = 0): rows only get created by use,
    # an equality row with only swap terms forces them to 0, with only transition terms forces those to 0.
    n = len(cost)
    keys = list(rows)
    r_idx, c_idx, vals = [], [], []
    lo = np.zeros(len(keys))
    hi = np.zeros(len(keys))
    for ri, key in enumerate(keys):
        for v, c in rows[key]:
            r_idx.append(ri)
            c_idx.append(v)
            vals.append(c)
        lo[ri], hi[ri] = rhs[key]
    A = sp.csr_matrix((vals, (r_idx, c_idx)), shape=(len(keys), n))
    p = Program("mess-milp")
    xb = p.add_vars("x", n, lb=0.0, ub=np.array(ub), integer=np.array(integer))
    p.add_objective(xb, np.array(cost))
    p.const = inst.const
    p.add_rows("rows", [(xb, A)], lo=lo, hi=hi)
    hs = HighsSolver(p, options={"mip_rel_gap": 0.0, "mip_abs_gap": 1e-9})
    sol = hs.solve(time_limit=time_limit)
    if sol.status == "infeasible":
        return MilpResult("infeasible", None, n, len(keys))
    if sol.status != "optimal":
        raise SolverError(f"M_Δ: HiGHS status {sol.status}")
    return MilpResult("optimal", float(sol.objective), n, len(keys))
