"""Time–space–state-of-charge dynamic program (shared kernel, mess.md §1.5 and §6.7).

A :class:`TSGraph` is a time-expanded graph over states ``(node, step, level)`` with ``node < n_nodes``,
``step = 0..n_steps`` and ``level = 0..n_levels-1``. Arcs are given as arrays:

* ``frm[a]``, ``to[a]`` — tail and head node of arc ``a``;
* ``nsteps[a, j]`` — steps taken when departing at step ``j`` (``-1``: arc not usable at ``j``; always
  ``j + nsteps <= n_steps`` and ``nsteps >= 1`` where usable, so time strictly increases);
* ``qmap[a, j, q]`` — head level when departing at ``j`` with level ``q`` (``-1``: infeasible);
* ``cost[a, j, q]`` — finite base cost of that transition;
* ``occ[a]`` — the arc pays the per-step *time prices* of every step it spans (prefix sums);
* ``res[a]`` — resource (e.g. a charger's plugs) whose price at the departure step the arc pays, ``-1`` none.

Prices are the duals of coupling rows of a master problem (mess.md §6.2: fleet occupancy ``|mu_{k,j}|``
and plug duals ``|nu_{c,j}|``; OMTEPF's node–time prices). The effective arc cost is
``base_weight * cost + (time-price over the spanned steps if occ) + (resource price at departure)``.

Forward pass (min cost to reach every state from weighted sources), backward pass (min cost from every state
to weighted sinks) and tracebacks are provided twice: compiled with numba (``@njit(cache=True)``) and as a
pure-numpy fallback selected with the environment variable ``TENFLOW_NO_NUMBA=1``. Both process arcs in the same
order (step ascending — descending for the backward pass —, arc index, level) and break ties the same way
(strict improvement only: the first candidate in that order wins), so they return identical values and
identical predecessor arrays.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

INF = np.inf

try:  # pragma: no cover - import guard
    if os.environ.get("TENFLOW_NO_NUMBA", "") == "1":
        raise ImportError
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False

    def njit(*args, **kwargs):  # type: ignore[no-redef]
        def deco(f):  # type: ignore[no-untyped-def]
            return f

        if args and callable(args[0]):
            return args[0]
        return deco


def use_numba() -> bool:
    """True when the compiled kernels are used (numba importable and ``TENFLOW_NO_NUMBA`` != 1)."""
    return HAVE_NUMBA and os.environ.get("TENFLOW_NO_NUMBA", "") != "1"


@dataclass
class TSGraph:
    """Time-expanded arcs with SoC transition maps and costs (see module docstring)."""

    n_nodes: int
    n_steps: int
    n_levels: int
    frm: np.ndarray  # int32[A]
    to: np.ndarray  # int32[A]
    nsteps: np.ndarray  # int32[A, n_steps+1]
    qmap: np.ndarray  # int32[A, n_steps+1, n_levels]
    cost: np.ndarray  # float64[A, n_steps+1, n_levels]
    occ: np.ndarray  # bool[A]
    res: np.ndarray  # int32[A]

    def __post_init__(self) -> None:
        self.frm = np.ascontiguousarray(self.frm, dtype=np.int32)
        self.to = np.ascontiguousarray(self.to, dtype=np.int32)
        self.nsteps = np.ascontiguousarray(self.nsteps, dtype=np.int32)
        self.qmap = np.ascontiguousarray(self.qmap, dtype=np.int32)
        self.cost = np.ascontiguousarray(self.cost, dtype=np.float64)
        self.occ = np.ascontiguousarray(self.occ, dtype=np.bool_)
        self.res = np.ascontiguousarray(self.res, dtype=np.int32)
        A = self.frm.shape[0]
        S, Q = self.n_steps + 1, self.n_levels
        if self.nsteps.shape != (A, S) or self.qmap.shape != (A, S, Q) or self.cost.shape != (A, S, Q):
            raise ValueError("TSGraph: inconsistent array shapes")
        j = np.arange(S)[None, :]
        ok = self.nsteps >= 0
        if np.any(ok & ((self.nsteps < 1) | (j + self.nsteps > self.n_steps))):
            raise ValueError("TSGraph: usable arcs must take >= 1 step and end within the horizon")
        if not np.all(np.isfinite(self.cost)):
            raise ValueError("TSGraph: arc costs must be finite (use qmap = -1 for infeasible transitions)")

    def qrange(self) -> tuple[np.ndarray, np.ndarray]:
        """Per arc and departure step the first and one-past-last level with ``qmap >= 0`` (int32[A, S] each;
        empty range where unusable). Computed once per graph; the compiled kernels loop over these levels only."""
        cached = getattr(self, "_qrange", None)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        ok = self.qmap >= 0
        Q = self.n_levels
        anyq = ok.any(axis=2) & (self.nsteps >= 0)
        first = np.where(anyq, np.argmax(ok, axis=2), 0).astype(np.int32)
        last = np.where(anyq, Q - np.argmax(ok[:, :, ::-1], axis=2), 0).astype(np.int32)
        self._qrange = (np.ascontiguousarray(first), np.ascontiguousarray(last))
        return self._qrange

    @property
    def n_arcs(self) -> int:
        return int(self.frm.shape[0])

    def state_shape(self) -> tuple[int, int, int]:
        return (self.n_nodes, self.n_steps + 1, self.n_levels)


@dataclass
class Prices:
    """Dual prices entering the arc costs.

    ``time[j]`` for step ``j = 0..n_steps-1`` (paid by ``occ`` arcs for every spanned step),
    ``res[r, j]`` for resource ``r`` at departure step ``j``.
    """

    time: np.ndarray
    res: np.ndarray

    @staticmethod
    def zero(n_steps: int, n_res: int = 0) -> Prices:
        return Prices(np.zeros(n_steps), np.zeros((max(n_res, 1), n_steps + 1)))


def _prefix(time_price: np.ndarray, n_steps: int) -> np.ndarray:
    P = np.zeros(n_steps + 1)
    P[1:] = np.cumsum(np.asarray(time_price, dtype=np.float64)[:n_steps])
    return P


def _arc_add(g: TSGraph, prices: Prices) -> np.ndarray:
    """Price added to arc ``a`` departing at ``j`` (float64[A, S]); 0 where unusable.

    The time prices of the spanned steps ``j .. j+n-1`` are summed left to right over the span itself (not as a
    difference of prefix sums), so an arc's price depends bitwise only on the prices of its own steps; this is what
    lets a warm-started pass (:func:`changed_steps`) reproduce a full pass exactly.
    """
    S = g.n_steps + 1
    tprice = np.zeros(S + 1)
    tprice[: g.n_steps] = np.asarray(prices.time, dtype=np.float64)[: g.n_steps]
    rp = np.zeros((g.n_arcs, S))
    has = g.res >= 0
    if np.any(has):
        rp[has] = np.asarray(prices.res, dtype=np.float64)[g.res[has]][:, :S]
    if use_numba():
        out = np.empty((g.n_arcs, S))
        _arc_add_nb(g.nsteps, g.occ, tprice, rp, out)
        return out
    jj = np.arange(S)[None, :]
    n = np.where(g.nsteps >= 0, g.nsteps, 0)
    n = np.where(g.occ[:, None], n, 0)
    tp = np.zeros(n.shape)
    for d in range(int(n.max(initial=0))):
        tp = tp + np.where(d < n, tprice[np.minimum(jj + d, S)], 0.0)
    return tp + rp


@njit(cache=True, nogil=True)
def _arc_add_nb(nsteps, occ, tprice, rp, out):  # type: ignore[no-untyped-def]
    """Compiled :func:`_arc_add` (same left-to-right sums, bit-identical)."""
    A, S = nsteps.shape
    for a in range(A):
        for j in range(S):
            n = nsteps[a, j]
            tp = 0.0
            if occ[a] and n > 0:
                for d in range(n):
                    tp = tp + tprice[j + d]
            out[a, j] = tp + rp[a, j]


# ------------------------------------------------------------------------------------------- numba kernels
@njit(cache=True, nogil=True)
def _forward_nb(frm, to, nsteps, qmap, cost, add, w, F, pj, pa, pq, jlo, qlo, qhi):  # type: ignore[no-untyped-def]
    A = frm.shape[0]
    S = nsteps.shape[1]
    Q = qmap.shape[2]
    N = F.shape[0]
    live = np.zeros(N, dtype=np.bool_)
    flo = np.zeros(N, dtype=np.int64)
    fhi = np.zeros(N, dtype=np.int64)
    for j in range(S):
        for u in range(N):
            live[u] = False
            for q in range(Q):
                if F[u, j, q] != np.inf:
                    live[u] = True
                    flo[u] = q
                    break
            if live[u]:
                for q in range(Q - 1, -1, -1):
                    if F[u, j, q] != np.inf:
                        fhi[u] = q + 1
                        break
        for a in range(A):
            n = nsteps[a, j]
            if n < 0:
                continue
            u = frm[a]
            if not live[u]:
                continue
            v = to[a]
            j2 = j + n
            if j2 <= jlo:
                continue
            ad = add[a, j]
            q_a = max(qlo[a, j], flo[u])
            q_b = min(qhi[a, j], fhi[u])
            for q in range(q_a, q_b):
                f = F[u, j, q]
                if f == np.inf:
                    continue
                q2 = qmap[a, j, q]
                if q2 < 0:
                    continue
                val = f + w * cost[a, j, q] + ad
                if val < F[v, j2, q2]:
                    F[v, j2, q2] = val
                    pj[v, j2, q2] = j
                    pa[v, j2, q2] = a
                    pq[v, j2, q2] = q


@njit(cache=True, nogil=True)
def _backward_nb(frm, to, nsteps, qmap, cost, add, w, G, sa, jhi, qlo, qhi):  # type: ignore[no-untyped-def]
    A = frm.shape[0]
    S = nsteps.shape[1]
    Q = qmap.shape[2]
    N = G.shape[0]
    live = np.zeros((N, S), dtype=np.bool_)
    for j in range(S - 1, jhi, -1):
        for u in range(N):
            for q in range(Q):
                if G[u, j, q] != np.inf:
                    live[u, j] = True
                    break
    for j in range(jhi, -1, -1):
        for a in range(A):
            n = nsteps[a, j]
            if n < 0:
                continue
            u = frm[a]
            v = to[a]
            j2 = j + n
            if not live[v, j2]:
                continue
            ad = add[a, j]
            for q in range(qlo[a, j], qhi[a, j]):
                q2 = qmap[a, j, q]
                if q2 < 0:
                    continue
                g = G[v, j2, q2]
                if g == np.inf:
                    continue
                val = w * cost[a, j, q] + ad + g
                if val < G[u, j, q]:
                    G[u, j, q] = val
                    sa[u, j, q] = a
        for u in range(N):
            for q in range(Q):
                if G[u, j, q] != np.inf:
                    live[u, j] = True
                    break


# ------------------------------------------------------------------------------------------- numpy fallback
def _first_min_per_group(keys: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For candidates in processing order: per distinct key the minimum value and the first index attaining it."""
    order = np.lexsort((np.arange(keys.size), vals, keys))
    ks = keys[order]
    first = np.ones(ks.size, dtype=bool)
    first[1:] = ks[1:] != ks[:-1]
    return order[first], keys[order[first]]


def _forward_np(g: TSGraph, add: np.ndarray, w: float, F: np.ndarray, pj: np.ndarray, pa: np.ndarray,
                pq: np.ndarray, jlo: int = -1) -> None:
    S, Q = g.n_steps + 1, g.n_levels
    shape = F.shape
    Ff = F.reshape(-1)
    pjf, paf, pqf = pj.reshape(-1), pa.reshape(-1), pq.reshape(-1)
    for j in range(S):
        arcs = np.nonzero((g.nsteps[:, j] >= 0) & (j + g.nsteps[:, j] > jlo))[0]
        if arcs.size == 0:
            continue
        f = F[g.frm[arcs], j, :]  # (A', Q)
        q2 = g.qmap[arcs, j, :]
        val = f + w * g.cost[arcs, j, :] + add[arcs, j][:, None]
        ok = np.isfinite(f) & (q2 >= 0)
        ai, qi = np.nonzero(ok)  # row-major: arc order, then level order
        if ai.size == 0:
            continue
        a_sel = arcs[ai]
        v = g.to[a_sel]
        j2 = j + g.nsteps[a_sel, j]
        keys = np.ravel_multi_index((v, j2, q2[ai, qi]), shape)
        vv = val[ai, qi]
        idx, k = _first_min_per_group(keys, vv)
        better = vv[idx] < Ff[k]
        idx, k = idx[better], k[better]
        Ff[k] = vv[idx]
        pjf[k] = j
        paf[k] = a_sel[idx]
        pqf[k] = qi[idx]
    del S, Q


def _backward_np(g: TSGraph, add: np.ndarray, w: float, G: np.ndarray, sa: np.ndarray, jhi: int | None = None) -> None:
    S = g.n_steps + 1
    shape = G.shape
    Gf = G.reshape(-1)
    saf = sa.reshape(-1)
    for j in range(S - 1 if jhi is None else jhi, -1, -1):
        arcs = np.nonzero(g.nsteps[:, j] >= 0)[0]
        if arcs.size == 0:
            continue
        q2 = g.qmap[arcs, j, :]
        j2 = j + g.nsteps[arcs, j]
        gv = np.where(q2 >= 0, G[g.to[arcs][:, None], j2[:, None], np.maximum(q2, 0)], np.inf)
        val = w * g.cost[arcs, j, :] + add[arcs, j][:, None] + gv
        ok = np.isfinite(gv)
        ai, qi = np.nonzero(ok)
        if ai.size == 0:
            continue
        a_sel = arcs[ai]
        keys = np.ravel_multi_index((g.frm[a_sel], np.full(ai.size, j), qi), shape)
        vv = val[ai, qi]
        idx, k = _first_min_per_group(keys, vv)
        better = vv[idx] < Gf[k]
        idx, k = idx[better], k[better]
        Gf[k] = vv[idx]
        saf[k] = a_sel[idx]


# ------------------------------------------------------------------------------------------- public API
@dataclass
class Forward:
    """Result of :func:`forward`: values ``F[node, step, level]`` and predecessor (step, arc, level) arrays."""

    F: np.ndarray
    pj: np.ndarray
    pa: np.ndarray
    pq: np.ndarray


@dataclass
class Backward:
    """Result of :func:`backward`: values ``G[node, step, level]`` and successor arc (``-1``: stop at a sink)."""

    G: np.ndarray
    sa: np.ndarray


def changed_steps(g: TSGraph, old: Prices, new: Prices) -> tuple[int, int] | None:
    """Range of departure steps whose arc prices differ between two price sets (``None``: none differ).

    Returns ``(lo, hi)``: every arc whose added price differs departs at a step ``<= hi`` and arrives at a step
    ``> lo``. Hence forward values at steps ``<= lo`` and backward values at steps ``> hi`` are the same under both
    price sets (mess.md §6.7: F_k/G_k are only recomputed where the duals changed).
    """
    n = g.n_steps
    t_old = np.asarray(old.time, dtype=np.float64)[:n]
    t_new = np.asarray(new.time, dtype=np.float64)[:n]
    c = np.nonzero(t_old != t_new)[0]
    lo, hi = (int(c[0]), int(c[-1])) if c.size else (n + 1, -1)
    used = np.unique(g.res[g.res >= 0])
    if used.size:
        r_old = np.asarray(old.res, dtype=np.float64)[used][:, : n + 1]
        r_new = np.asarray(new.res, dtype=np.float64)[used][:, : n + 1]
        cr = np.nonzero((r_old != r_new).any(axis=0))[0]
        if cr.size:
            lo, hi = min(lo, int(cr[0])), max(hi, int(cr[-1]))
    return None if hi < 0 else (lo, hi)


def forward(g: TSGraph, source: np.ndarray, prices: Prices | None = None, base_weight: float = 1.0,
            numba: bool | None = None, warm: tuple[Forward, int] | None = None) -> Forward:
    """Forward pass: ``F(s) = min(source(s), min_{arcs a: s' -> s} F(s') + cost_a)`` over all states.

    Parameters
    ----------
    g
        The graph.
    source
        float[n_nodes, n_steps+1, n_levels]: start cost of each state (``inf``: not a start).
    prices
        Dual prices (default zero).
    base_weight
        Multiplier of the base arc costs (1 normally, 0 for a phase-I pricing problem).
    numba
        Force the compiled (True) or the numpy (False) kernel; default :func:`use_numba`.
    warm
        ``(previous, lo)``: a forward pass of the same graph, source and base weight under prices that differ from
        ``prices`` only on arcs arriving after step ``lo`` (:func:`changed_steps`). Its states at steps ``<= lo``
        are kept and only arcs arriving after ``lo`` are relaxed again, in the same order as a full pass, so the
        result is bit-identical to the full pass.
    """
    prices = prices if prices is not None else Prices.zero(g.n_steps)
    add = _arc_add(g, prices)
    F = np.array(source, dtype=np.float64, copy=True)
    shp = g.state_shape()
    if F.shape != shp:
        raise ValueError(f"source has shape {F.shape}, expected {shp}")
    pj = np.full(shp, -1, dtype=np.int32)
    pa = np.full(shp, -1, dtype=np.int32)
    pq = np.full(shp, -1, dtype=np.int32)
    lo = -1
    if warm is not None:
        prev, lo = warm[0], min(int(warm[1]), g.n_steps)
        F[:, : lo + 1] = prev.F[:, : lo + 1]
        pj[:, : lo + 1] = prev.pj[:, : lo + 1]
        pa[:, : lo + 1] = prev.pa[:, : lo + 1]
        pq[:, : lo + 1] = prev.pq[:, : lo + 1]
    if numba if numba is not None else use_numba():
        qlo, qhi = g.qrange()
        _forward_nb(g.frm, g.to, g.nsteps, g.qmap, g.cost, add, float(base_weight), F, pj, pa, pq, lo, qlo, qhi)
    else:
        _forward_np(g, add, float(base_weight), F, pj, pa, pq, lo)
    return Forward(F, pj, pa, pq)


def backward(g: TSGraph, sink: np.ndarray, prices: Prices | None = None, base_weight: float = 1.0,
             numba: bool | None = None, warm: tuple[Backward, int] | None = None) -> Backward:
    """Backward pass: ``G(s) = min(sink(s), min_{arcs a: s -> s'} cost_a + G(s'))`` (see :func:`forward`).

    ``warm = (previous, hi)``: a backward pass of the same graph, sink and base weight under prices that differ only
    on arcs departing at steps ``<= hi``; its states at steps ``> hi`` are kept (bit-identical to a full pass).
    """
    prices = prices if prices is not None else Prices.zero(g.n_steps)
    add = _arc_add(g, prices)
    G = np.array(sink, dtype=np.float64, copy=True)
    shp = g.state_shape()
    if G.shape != shp:
        raise ValueError(f"sink has shape {G.shape}, expected {shp}")
    sa = np.full(shp, -1, dtype=np.int32)
    hi = g.n_steps
    if warm is not None:
        prev, hi = warm[0], max(int(warm[1]), -1)
        G[:, hi + 1 :] = prev.G[:, hi + 1 :]
        sa[:, hi + 1 :] = prev.sa[:, hi + 1 :]
    if numba if numba is not None else use_numba():
        qlo, qhi = g.qrange()
        _backward_nb(g.frm, g.to, g.nsteps, g.qmap, g.cost, add, float(base_weight), G, sa, hi, qlo, qhi)
    else:
        _backward_np(g, add, float(base_weight), G, sa, hi)
    return Backward(G, sa)


def trace_forward(fw: Forward, g: TSGraph, node: int, step: int, level: int) -> list[tuple[int, int, int]]:
    """Arcs ``(arc, departure step, departure level)`` of the best path into ``(node, step, level)``, in order."""
    out: list[tuple[int, int, int]] = []
    v, j, q = node, step, level
    if not np.isfinite(fw.F[v, j, q]):
        raise ValueError("state not reachable")
    while fw.pa[v, j, q] >= 0:
        a, j0, q0 = int(fw.pa[v, j, q]), int(fw.pj[v, j, q]), int(fw.pq[v, j, q])
        out.append((a, j0, q0))
        v, j, q = int(g.frm[a]), j0, q0
    out.reverse()
    return out


def trace_backward(bw: Backward, g: TSGraph, node: int, step: int, level: int) -> list[tuple[int, int, int]]:
    """Arcs ``(arc, departure step, departure level)`` of the best path from ``(node, step, level)`` to a sink."""
    out: list[tuple[int, int, int]] = []
    v, j, q = node, step, level
    if not np.isfinite(bw.G[v, j, q]):
        raise ValueError("state cannot reach a sink")
    while bw.sa[v, j, q] >= 0:
        a = int(bw.sa[v, j, q])
        out.append((a, j, q))
        j, q, v = j + int(g.nsteps[a, j]), int(g.qmap[a, j, q]), int(g.to[a])
    return out


def path_cost(g: TSGraph, path: list[tuple[int, int, int]], prices: Prices | None = None,
              base_weight: float = 1.0) -> float:
    """Cost of a path given as ``(arc, departure step, departure level)`` triples (same arithmetic as the passes)."""
    prices = prices if prices is not None else Prices.zero(g.n_steps)
    add = _arc_add(g, prices)
    tot = 0.0
    for a, j, q in path:
        tot = tot + base_weight * float(g.cost[a, j, q]) + float(add[a, j])
    return tot
