"""Trip DPs and the site-chain DP of the MESS optimiser (mess.md §6.2).

* :func:`trip_dp` — per type, the forward pass ``F_k`` (cheapest partial trip from any start to every state,
  before the swap) and the backward pass ``G_k`` (cheapest completion from every state to a trip end) on the
  type's time–space–SoC graph (:mod:`tenflow.core.tsdp`), with the master's duals as prices.
* :func:`chain_dp` — per site, the chain DP over "pack of level q installed at completion step j":
  ``H_k(j') = min_{(j,q)} V(j,q) + S_i(j,q,j') + G_k(i,j',b)`` and ``V(j',q') = min_k H_k(j') + swap_k + F_k(i,j'-n_σ,q')``,
  the chain ending where rule 3's last-pack condition holds. numba kernel plus a numpy fallback (vectorised over
  levels) with identical arithmetic and tie-breaking (sources in order init, then (step, level) ascending; types
  ascending; strict improvement).
* :func:`trace_chain` — the column (all trips with their arc paths) of the best chain.
* :func:`column_cost` — the base cost of a column recomputed from its arcs (the §6.1 objective restricted to it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from tenflow.core import tsdp
from tenflow.core.tsdp import njit, use_numba
from tenflow.mess.instance import EPS, TOL_KWH, MessInstance, SiteArrays, site_walk

INF = np.inf


# ------------------------------------------------------------------------------------------- columns
@dataclass
class Trip:
    """One trip of a chain: out path to the site, swap, back path to the depot (arcs as (arc, step, level))."""

    k: int
    j0: int
    ja: int
    q_del: int
    js: int
    b: int
    je: int
    out: list[tuple[int, int, int]]
    back: list[tuple[int, int, int]]


@dataclass
class Column:
    """A site chain (master column): its trips, base cost and constraint signature."""

    site: int
    trips: list[Trip]
    cost: float = 0.0
    occ: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))  # [K, J]
    plugs: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))  # [R, S]
    origin: str = ""

    def signature(self) -> tuple[int, bytes, bytes]:
        return (self.site, self.occ.tobytes(), self.plugs.tobytes())


def finish_column(inst: MessInstance, col: Column) -> Column:
    """Fill cost, occupancy counts and plug counts of a column from its trips."""
    K, J = len(inst.types), inst.n_steps
    occ = np.zeros((K, J), dtype=np.int64)
    plugs = np.zeros((inst.n_res, inst.S), dtype=np.int64)
    for t in col.trips:
        occ[t.k, t.j0 : t.je] += 1
        g = inst.types[t.k].graph
        for a, j, _q in t.out + t.back:
            r = int(g.res[a])
            if r >= 0:
                plugs[r, j] += 1
    col.occ = occ
    col.plugs = plugs
    col.cost = column_cost(inst, col)
    return col


def column_cost(inst: MessInstance, col: Column) -> float:
    """Base cost (§6.1 objective terms of this site and its trips, without the constant) of a column."""
    site = inst.sites[col.site]
    delta = inst.delta_kwh
    tot = 0.0
    eb, j0 = site.e0, 0
    last = inst.S - 1
    for t in col.trips:
        ty = inst.types[t.k]
        g = ty.graph
        for a, j, q in t.out:
            tot += float(g.cost[a, j, q])
        tot += float(ty.swap_cost[col.site, t.ja, t.q_del])
        for a, j, q in t.back:
            tot += float(g.cost[a, j, q])
        _e_last, acc = _walk(site, delta, j0, eb, t.js)
        tot += acc
        eb, j0 = t.q_del * delta, t.js
    e_last, acc = _walk(site, delta, j0, eb, last)
    tot += acc - site.credit * e_last
    return tot


def _walk(site: SiteArrays, delta: float, j: int, e: float, j_end: int) -> tuple[float, float]:
    """(last energy, accumulated wear) of :func:`tenflow.mess.instance.site_walk` (compiled when numba is used;
    the same arithmetic in the same order, hence the same floats)."""
    if use_numba():
        return _walk_nb(np.asarray(site.D, dtype=np.float64), site.W, float(site.reserve_kwh), float(delta), int(j),
                        float(e), int(j_end))
    es, _ls, acc = site_walk(site, delta, j, e, j_end)
    return es[-1], acc


@njit(cache=True, nogil=True)
def _walk_nb(D, W, reserve, delta, j, e, j_end):  # type: ignore[no-untyped-def]
    lv = int(math.floor(e / delta + EPS))
    acc = 0.0
    e_last = e
    for m in range(j, j_end):
        e1 = e - (D[m + 1] - D[j])
        l1 = int(math.floor(e1 / delta + EPS))
        e_last = e1
        if e1 < reserve - TOL_KWH:
            return e_last, np.inf
        acc = acc + W[m, lv, lv - l1]
        lv = l1
    return e_last, acc


# ------------------------------------------------------------------------------------------- trip DPs
@dataclass
class TripDP:
    """Forward/backward values of one type for one set of prices."""

    fw: tsdp.Forward
    bw: tsdp.Backward
    prices: tsdp.Prices
    w: float


def trip_dp(inst: MessInstance, k: int, prices: tsdp.Prices | None = None, w: float = 1.0,
            numba: bool | None = None, warm: TripDP | None = None) -> TripDP:
    """Forward pass from the trip starts and backward pass to the trip ends of type ``k`` (§6.2).

    ``warm``: an earlier result of the same type and weight ``w``; only the states that the changed prices can
    affect are recomputed (:func:`tenflow.core.tsdp.changed_steps`), bit-identical to a full recomputation.
    """
    ty = inst.types[k]
    pr = prices if prices is not None else tsdp.Prices.zero(inst.n_steps, inst.n_res)
    if warm is not None and warm.w == w:
        rng = tsdp.changed_steps(ty.graph, warm.prices, pr)
        if rng is None:
            return TripDP(warm.fw, warm.bw, pr, w)
        lo, hi = rng
        fw = tsdp.forward(ty.graph, ty.source(inst.idle), pr, w, numba=numba, warm=(warm.fw, lo))
        bw = tsdp.backward(ty.graph, ty.sink(inst.depot), pr, w, numba=numba, warm=(warm.bw, hi))
        return TripDP(fw, bw, pr, w)
    fw = tsdp.forward(ty.graph, ty.source(inst.idle), pr, w, numba=numba)
    bw = tsdp.backward(ty.graph, ty.sink(inst.depot), pr, w, numba=numba)
    return TripDP(fw, bw, pr, w)


def warm_work(inst: MessInstance, k: int, old: TripDP, prices: tsdp.Prices, w: float) -> int:
    """Number of steps a warm-started :func:`trip_dp` from ``old`` recomputes (forward + backward)."""
    if old.w != w:
        return 2 * inst.S
    rng = tsdp.changed_steps(inst.types[k].graph, old.prices, prices)
    if rng is None:
        return 0
    return (inst.S - 1 - rng[0]) + (rng[1] + 1)


def swap_values(inst: MessInstance, k: int, site: int, prices: tsdp.Prices, w: float) -> np.ndarray:
    """Swap cost by arrival step and delivered level incl. occupancy prices over the swap (inf if it ends late)."""
    ty = inst.types[k]
    ns, S = inst.n_sigma, inst.S
    P = np.zeros(S)
    P[1:] = np.cumsum(np.asarray(prices.time, dtype=float)[: inst.n_steps])
    out = np.full((S, inst.n_levels), INF)
    ja = np.arange(S - ns)
    out[ja, :] = w * ty.swap_cost[site, ja, :] + (P[ja + ns] - P[ja])[:, None]
    return out


# ------------------------------------------------------------------------------------------- chain DP
@njit(cache=True, nogil=True)
def _push_nb(eb, j0, jtag, qsrc, v0, Gt, D, R, endmin, ws, we, ns, Wt, credit, delta, w, H, Hj, Hq):  # type: ignore[no-untyped-def]
    K = Gt.shape[2]
    S = Gt.shape[0]
    lv = int(math.floor(eb / delta + EPS))
    acc = v0
    alive = True
    # the chain cannot end with this pack: only the swap window matters, stop the walk at its end
    e_last = eb - (D[S - 1] - D[j0])
    m_end = S - 1 if e_last >= endmin - TOL_KWH else min(S - 1, we)
    for m in range(j0, m_end):
        e1 = eb - (D[m + 1] - D[j0])
        if e1 < R - TOL_KWH:
            alive = False
            break
        l1 = int(math.floor(e1 / delta + EPS))
        acc = acc + w * Wt[lv, m, lv - l1]
        lv = l1
        jp = m + 1
        if jp - ns >= ws and jp - ns >= j0 and jp <= we:
            for k in range(K):
                g = Gt[jp, l1, k]
                if g == np.inf:
                    continue
                val = acc + g
                if val < H[k, jp]:
                    H[k, jp] = val
                    Hj[k, jp] = jtag
                    Hq[k, jp] = qsrc
    if alive and m_end == S - 1:
        e_end = eb - (D[S - 1] - D[j0])
        if e_end >= endmin - TOL_KWH:
            return acc - w * credit * e_end
    return np.inf


@njit(cache=True, nogil=True)
def _chain_nb(F, Gt, SW, D, e0, R, endmin, ws, we, ns, Wt, credit, delta, w, V, Vk, H, Hj, Hq, E):  # type: ignore[no-untyped-def]
    K = F.shape[0]
    S = F.shape[1]
    Q = F.shape[2]
    best = np.inf
    ej = -2
    eq = -2
    val = _push_nb(e0, 0, -1, -1, 0.0, Gt, D, R, endmin, ws, we, ns, Wt, credit, delta, w, H, Hj, Hq)
    E[0, 0] = val
    if val < best:
        best = val
        ej = -1
        eq = -1
    for j in range(1, S):
        ja = j - ns
        if ja < 0:
            continue
        for q in range(Q):
            for k in range(K):
                h = H[k, j]
                if h == np.inf:
                    continue
                f = F[k, ja, q]
                if f == np.inf:
                    continue
                sw = SW[k, ja, q]
                if sw == np.inf:
                    continue
                v = h + sw + f
                if v < V[j, q]:
                    V[j, q] = v
                    Vk[j, q] = k
        for q in range(Q):
            if V[j, q] == np.inf:
                continue
            val = _push_nb(q * delta, j, j, q, V[j, q], Gt, D, R, endmin, ws, we, ns, Wt, credit, delta, w, H, Hj, Hq)
            E[j, q] = val
            if val < best:
                best = val
                ej = j
                eq = q
    return best, ej, eq


def _push_np(eb: np.ndarray, j0: int, jtag: int, qsrc: np.ndarray, v0: np.ndarray, G: np.ndarray, D: np.ndarray,
             R: float, endmin: float, ws: int, we: int, ns: int, W: np.ndarray, credit: float, delta: float,
             w: float, H: np.ndarray, Hj: np.ndarray, Hq: np.ndarray) -> np.ndarray:
    """Vectorised :func:`_push_nb` over several sources at one step (processed in the given order)."""
    K, S = G.shape[0], G.shape[1]
    n = eb.shape[0]
    lv = np.floor(eb / delta + EPS).astype(np.int64)
    acc = v0.astype(float).copy()
    alive = np.ones(n, dtype=bool)
    for m in range(j0, S - 1):
        e1 = eb - (D[m + 1] - D[j0])
        alive &= ~(e1 < R - TOL_KWH)
        if not alive.any():
            break
        l1 = np.where(alive, np.floor(e1 / delta + EPS), 0).astype(np.int64)
        lsafe = np.where(alive, lv, 0)
        acc = np.where(alive, acc + w * W[m, lsafe, lsafe - l1], acc)
        lv = l1
        jp = m + 1
        if jp - ns >= ws and jp - ns >= j0 and jp <= we:
            for k in range(K):
                g = G[k, jp, l1]
                ok = alive & (g != INF)
                if not ok.any():
                    continue
                vals = np.where(ok, acc + np.where(ok, g, 0.0), INF)
                i = int(np.argmin(vals))
                if vals[i] < H[k, jp]:
                    H[k, jp] = vals[i]
                    Hj[k, jp] = jtag
                    Hq[k, jp] = qsrc[i]
    out = np.full(n, INF)
    e_end = eb - (D[S - 1] - D[j0])
    ok = alive & (e_end >= endmin - TOL_KWH)
    out[ok] = acc[ok] - w * credit * e_end[ok]
    return out


def _chain_np(F: np.ndarray, G: np.ndarray, SW: np.ndarray, D: np.ndarray, e0: float, R: float, endmin: float,
              ws: int, we: int, ns: int, W: np.ndarray, credit: float, delta: float, w: float, V: np.ndarray,
              Vk: np.ndarray, H: np.ndarray, Hj: np.ndarray, Hq: np.ndarray, E: np.ndarray) -> tuple[float, int, int]:
    K, S, Q = F.shape
    best, ej, eq = INF, -2, -2
    val = _push_np(np.array([e0]), 0, -1, np.array([-1]), np.array([0.0]), G, D, R, endmin, ws, we, ns, W, credit,
                   delta, w, H, Hj, Hq)[0]
    E[0, 0] = val
    if val < best:
        best, ej, eq = val, -1, -1
    for j in range(1, S):
        ja = j - ns
        if ja < 0:
            continue
        h = H[:, j][:, None]
        ok = (h != INF) & (F[:, ja, :] != INF) & (SW[:, ja, :] != INF)
        vals = np.where(ok, np.where(ok, h, 0.0) + np.where(ok, SW[:, ja, :], 0.0) + np.where(ok, F[:, ja, :], 0.0),
                        INF)
        kb = np.argmin(vals, axis=0)
        vb = vals[kb, np.arange(Q)]
        upd = vb < V[j]
        V[j, upd] = vb[upd]
        Vk[j, upd] = kb[upd]
        qs = np.nonzero(V[j] != INF)[0]
        if qs.size == 0:
            continue
        ends = _push_np(qs * delta, j, j, qs, V[j, qs], G, D, R, endmin, ws, we, ns, W, credit, delta, w, H, Hj, Hq)
        E[j, qs] = ends
        i = int(np.argmin(ends))
        if ends[i] < best:
            best, ej, eq = float(ends[i]), j, int(qs[i])
    return best, ej, eq


@dataclass
class ChainDP:
    """Result of :func:`chain_dp` for one site."""

    site: int
    value: float  # min over chains of (base·w + dual prices), without the site dual
    end_j: int  # -2 none, -1 the initial pack lasts to the end, else step of the last installed pack
    end_q: int
    V: np.ndarray
    Vk: np.ndarray
    H: np.ndarray
    Hj: np.ndarray
    Hq: np.ndarray
    types: list[int]
    E: np.ndarray | None = None  # end value per last installed pack (j, q); E[0, 0]: the initial pack lasts

    def ends(self, limit: int, below: float = np.inf) -> list[tuple[int, int]]:
        """Up to ``limit`` chain ends ``(end_j, end_q)`` with value ``< below``, the best first; at most one per
        end step ``j`` (the best level, lowest on ties), so that the chains differ in the timing of their last
        swap (§6.2 step 4: up to 5 columns per site)."""
        if self.E is None or self.end_j == -2:
            return []
        Ev = self.E.copy()
        init = float(Ev[0, 0])
        Ev[0, 0] = INF
        qb = np.argmin(Ev, axis=1)
        vb = Ev[np.arange(Ev.shape[0]), qb]
        cand = [(init, -1, -1)] if init < below else []
        js = np.nonzero(vb < below)[0]
        cand += [(float(vb[j]), int(j), int(qb[j])) for j in js]
        cand.sort()
        out = [(self.end_j, self.end_q)]
        for _v, j, q in cand:
            if len(out) >= limit:
                break
            if (j, q) != out[0] and j != self.end_j:
                out.append((j, q))
        return out


def chain_dp(inst: MessInstance, i: int, trips: list[TripDP | None], numba: bool | None = None) -> ChainDP:
    """Chain DP of site ``i`` (§6.2) given the trip DPs of every type (``None``: type unused).

    The kernels run over the types that serve the site only (in ascending order, so ties break as over all types);
    ``Vk``, ``H``, ``Hj``, ``Hq`` are returned indexed by the real type.
    """
    site = inst.sites[i]
    S, Q = inst.S, inst.n_levels
    K = len(inst.types)
    ks = [k for k, td in enumerate(trips) if td is not None and inst.types[k].serves[i]]
    Kc = len(ks)
    F = np.empty((Kc, S, Q))
    G = np.empty((Kc, S, Q))
    SW = np.empty((Kc, S, Q))
    w = 1.0
    for c, k in enumerate(ks):
        td = trips[k]
        assert td is not None
        F[c] = td.fw.F[site.node]
        G[c] = td.bw.G[site.node]
        SW[c] = swap_values(inst, k, i, td.prices, td.w)
        w = td.w
    V = np.full((S, Q), INF)
    Vk = np.full((S, Q), -1, dtype=np.int64)
    Hc = np.full((Kc, S), INF)
    Hjc = np.full((Kc, S), -2, dtype=np.int64)
    Hqc = np.full((Kc, S), -2, dtype=np.int64)
    E = np.full((S, Q), INF)
    W = np.ascontiguousarray(site.W, dtype=float)
    args = (F, G, SW, np.asarray(site.D, dtype=float), float(site.e0), float(site.reserve_kwh),
            float(site.endmin_kwh), int(site.ws), int(site.we), int(inst.n_sigma), W, float(site.credit),
            float(inst.delta_kwh), float(w), V, Vk, Hc, Hjc, Hqc, E)
    if numba if numba is not None else use_numba():
        # cache-friendly layouts for the compiled walk: G by (step, level, type), W by (level, step, drop)
        cached = getattr(site, "_Wt", None)
        if cached is None or cached[0] is not site.W:
            cached = (site.W, np.ascontiguousarray(W.transpose(1, 0, 2)))
            site._Wt = cached  # type: ignore[attr-defined]
        Gt = np.ascontiguousarray(G.transpose(1, 2, 0))
        best, ej, eq = _chain_nb(F, Gt, *args[2:10], cached[1], *args[11:])
    else:
        best, ej, eq = _chain_np(*args)
    kmap = np.array(ks + [-1], dtype=np.int64)
    Vk = kmap[Vk]  # -1 stays -1 (index -1 of kmap)
    H = np.full((K, S), INF)
    Hj = np.full((K, S), -2, dtype=np.int64)
    Hq = np.full((K, S), -2, dtype=np.int64)
    if Kc:
        H[ks], Hj[ks], Hq[ks] = Hc, Hjc, Hqc
    return ChainDP(i, float(best), int(ej), int(eq), V, Vk, H, Hj, Hq,
                   [k for k, t in enumerate(trips) if t is not None], E)


def trace_chain(inst: MessInstance, cd: ChainDP, trips: list[TripDP | None],
                end: tuple[int, int] | None = None) -> Column | None:
    """The best chain of :func:`chain_dp` as a :class:`Column` (``None`` if the site has no feasible chain);
    ``end``: the best chain ending with the pack installed at ``(j, q)`` instead (``(-1, -1)``: no swap)."""
    if cd.end_j == -2 or not np.isfinite(cd.value):
        return None
    site = inst.sites[cd.site]
    delta, ns = inst.delta_kwh, inst.n_sigma
    swaps: list[Trip] = []
    j, q = (cd.end_j, cd.end_q) if end is None else end
    while j >= 0:
        k = int(cd.Vk[j, q])
        td = trips[k]
        assert td is not None
        g = inst.types[k].graph
        ja = j - ns
        jp, qp = int(cd.Hj[k, j]), int(cd.Hq[k, j])
        eb, j0 = (site.e0, 0) if jp == -1 else (qp * delta, jp)
        e_rem = eb - (site.D[j] - site.D[j0])
        b = int(math.floor(e_rem / delta + EPS))
        out = tsdp.trace_forward(td.fw, g, site.node, ja, q)
        back = tsdp.trace_backward(td.bw, g, site.node, j, b)
        a_last, j_last, _ = back[-1]
        je = j_last + int(g.nsteps[a_last, j_last])
        swaps.append(Trip(k=k, j0=out[0][1], ja=ja, q_del=q, js=j, b=b, je=je, out=out, back=back))
        j, q = jp, qp
    swaps.reverse()
    return finish_column(inst, Column(site=cd.site, trips=swaps))


def solve_uncoupled(inst: MessInstance, types: list[int] | None = None, numba: bool | None = None,
                    mapper: Callable[[Callable[[int], object], Iterable[int]], list[object]] | None = None,
                    ) -> tuple[list[TripDP | None], list[ChainDP], list[Column | None]]:
    """Single-site optimum per site with zero duals and unbounded fleet (§6.2 step 2), optionally restricted.

    ``mapper(f, items) -> list`` may run the independent DPs concurrently (order preserved).
    """
    run = mapper if mapper is not None else (lambda f, xs: [f(x) for x in xs])
    ks = list(range(len(inst.types)) if types is None else types)
    trips: list[TripDP | None] = [None] * len(inst.types)
    for k, td in zip(ks, run(lambda k: trip_dp(inst, k, numba=numba), ks), strict=True):
        trips[k] = td  # type: ignore[assignment]
    cds: list[ChainDP] = run(lambda i: chain_dp(inst, i, trips, numba=numba), range(len(inst.sites)))  # type: ignore[assignment]
    cols = [trace_chain(inst, cd, trips) for cd in cds]
    return trips, cds, cols
