"""EV transport block of the OMTEPF: token conservation in the time-expanded engineering-system net.

Implements omtepf.md §3.3 (EV rows of eq. 8–10, durations), §3.5 (itinerary windows, eligibility,
initial conditions) and §3.6 items 1–3 (road, lot and plug capacities), in the reduced form of §7:

* one **binary firing** ``x[f]`` per EV capability and step that survives eligibility, windows and
  space–time reachability pruning (``U^-_psi[k] = 1``; with ``U^+_psi[k+d] = U^-_psi[k]`` eliminated);
* one **idle** variable ``q[v,b,k] = Q_{B,(v,b)}[k+1]`` in ``[0, 1]`` (queued at ``b`` during step ``k``;
  integrality is implied by the conservation rows), only where the window allows queueing;
* conservation per (EV, buffer, step) — eq. 8 with ``M^+/M^-`` of one EV's transitions::

      q[v,b,k-1] + sum_{f: dest=b, k_f+d_f=k} x_f + [k=k0, b=start_v] = q[v,b,k] + sum_{f: origin=b, k_f=k} x_f

* capacities per (resource, step): road arcs (plain + electrified traversals, selector ``S_W``), parking lots
  (parking + charging at the lot's buffer, selector ``S_T``) and plugs.

Charging capabilities (home / commercial / v2g chargers, inductive / wire electrified arcs) are described in
:mod:`tenflow.formulations.charging`, which also emits the SoC operand net and the KCL coupling. The
data-extraction part (:class:`Fleet`, :func:`build_fleet`, :func:`firing_set`) never touches solver variables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tenflow.case import Case
from tenflow.case import derived as D
from tenflow.errors import CaseError
from tenflow.solve.program import Program, VarBlock

Array = np.ndarray

#: transition kinds (omtepf.md §1.4 + Table I modalities)
ROAD_KINDS = ("road", "inductive", "wire")
CHARGER_KINDS = ("home", "com", "v2g")
ALL_KINDS = ("park",) + ROAD_KINDS + CHARGER_KINDS

FREE, STAY, TRAVEL = D.FREE, D.STAY, D.TRAVEL

CAP_COLUMNS = ("ev", "kind", "component", "origin", "dest", "duration", "cost", "charge", "discharge", "rate",
               "current_re", "current_im", "bus", "revenue")


@dataclass
class Fleet:
    """EV capabilities of a case with their windows (data only; omtepf.md §1.4, §3.5, §7 pruning).

    Attributes
    ----------
    caps
        One row per (EV, eligible capability): ``ev`` (EV position), ``kind`` (see :data:`ALL_KINDS`),
        ``component`` (road / lot / charger id), ``origin``, ``dest`` (buffer positions), ``duration``
        (steps), ``cost`` (transport cost per firing, eq. 59), ``charge`` (gross charge units, Table V charge
        ratio), ``discharge`` (units removed: depletion or v2g), ``rate`` (net SoC change), ``current_re``,
        ``current_im`` (current *drawn* per firing, injection negative), ``bus`` (bus position or -1),
        ``revenue`` (objective revenue per firing, eq. 63; for v2g the own price times units).
    cap_res_cap, cap_res_res
        Sparse membership of capabilities in capacity resources (pairs of positions).
    resources
        ``id``, ``type`` (``arc`` | ``lot`` | ``plugs``), ``capacity`` per step.
    mode, wbuf, wcharge
        Itinerary window per (EV, step): mode (FREE/STAY/TRAVEL), buffer position (-1 = none), charge flag.
    """

    name: str
    K: int
    ev_ids: pd.Index
    buffer_ids: pd.Index
    bus_ids: pd.Index
    home: Array
    battery: Array
    soc_init: Array
    soc_final: Array
    caps: pd.DataFrame
    cap_res_cap: Array
    cap_res_res: Array
    resources: pd.DataFrame
    mode: Array
    wbuf: Array
    wcharge: Array
    c_Q: float
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def n_ev(self) -> int:
        return len(self.ev_ids)

    @property
    def n_buf(self) -> int:
        return len(self.buffer_ids)


def _cap_frame(**cols: Any) -> pd.DataFrame:
    df = pd.DataFrame({c: cols[c] for c in CAP_COLUMNS})
    return df


def build_fleet(case: Case, kinds: Iterable[str] | None = None) -> Fleet:
    """Extract the EV capability table of ``case`` (omtepf.md §1.4, §3.4 Table V, §3.5).

    Parameters
    ----------
    case
        A validated :class:`~tenflow.case.Case`.
    kinds
        Capability kinds to keep (default all); the uncoordinated transport MILPs use ``{"park", "road"}``
        (electrified arcs then exist only as plain roads).
    """
    from tenflow.formulations.charging import charger_capabilities, electrified_capabilities

    keep = set(ALL_KINDS if kinds is None else kinds)
    bad = keep - set(ALL_KINDS)
    if bad:
        raise ValueError(f"unknown capability kinds {sorted(bad)}")
    buf = pd.Index(case.buffer_ids)
    bus = pd.Index(case.bus_ids)
    evs = case.evs
    ev_ids = pd.Index([str(x) for x in evs["id"]])
    n_ev = len(ev_ids)
    home = buf.get_indexer(evs["home"].astype(str))
    if (home < 0).any():
        bad_ev = list(ev_ids[home < 0])
        raise CaseError(f"EVs {bad_ev} have a home that is not a buffer", file="evs.csv", field="home")
    arcs = D.arcs(case)
    res_frames: list[pd.DataFrame] = []
    caps: list[pd.DataFrame] = []
    pairs_c: list[Array] = []
    pairs_r: list[Array] = []
    n_caps = 0
    n_res = 0

    def add(capdf: pd.DataFrame, res_of_cap: list[Array]) -> None:
        nonlocal n_caps
        caps.append(capdf)
        for r in res_of_cap:
            ok = r >= 0
            pairs_c.append(n_caps + np.flatnonzero(ok))
            pairs_r.append(r[ok])
        n_caps += len(capdf)

    # ---------------- resources: arcs, lots, plugs
    arc_res = n_res + np.arange(len(arcs))
    res_frames.append(pd.DataFrame({"id": arcs["road"] + ":" + arcs["direction"], "type": "arc",
                                    "capacity": arcs["capacity"].to_numpy(dtype=float)}))
    n_res += len(arcs)
    lots = case.parking
    lot_res = n_res + np.arange(len(lots))
    res_frames.append(pd.DataFrame({"id": lots["id"].astype(str), "type": "lot",
                                    "capacity": lots["capacity"].to_numpy(dtype=float)}))
    n_res += len(lots)
    lot_buf = buf.get_indexer(lots["buffer"].astype(str))

    # ---------------- parking (kind park)
    if "park" in keep and len(lots):
        el = D.eligibility(case, lots)  # lots x EVs
        li, vi = np.nonzero(el)
        b = lot_buf[li]
        add(_cap_frame(ev=vi, kind="park", component=lots["id"].astype(str).to_numpy()[li], origin=b, dest=b,
                       duration=1, cost=0.0, charge=0.0, discharge=0.0, rate=0.0, current_re=0.0, current_im=0.0,
                       bus=-1, revenue=0.0), [lot_res[li]])

    # ---------------- plain road traversals (every arc, every EV)
    if "road" in keep and len(arcs):
        na = len(arcs)
        vi = np.repeat(np.arange(n_ev), na)
        ai = np.tile(np.arange(na), n_ev)
        dep = arcs["depletion"].to_numpy(dtype=float)[ai]
        add(_cap_frame(ev=vi, kind="road", component=arcs["road"].to_numpy(dtype=object)[ai],
                       origin=buf.get_indexer(arcs["origin"])[ai], dest=buf.get_indexer(arcs["dest"])[ai],
                       duration=arcs["travel_steps"].to_numpy(dtype=int)[ai],
                       cost=arcs["cost"].to_numpy(dtype=float)[ai], charge=0.0, discharge=dep, rate=-dep,
                       current_re=0.0, current_im=0.0, bus=-1, revenue=0.0), [arc_res[ai]])

    # ---------------- charging while driving (inductive / wire)
    ecap, eres = electrified_capabilities(case, arcs, buf, bus, n_ev, keep)
    if len(ecap):
        add(ecap, [arc_res[eres]])

    # ---------------- chargers (home / com / v2g)
    ch = case.chargers
    plug_res = np.full(len(ch), -1)
    if len(ch):
        plugs = ch["plugs"].to_numpy(dtype=int)
        has = plugs > 0
        plug_res[has] = n_res + np.arange(int(has.sum()))
        res_frames.append(pd.DataFrame({"id": ch["id"].astype(str).to_numpy()[has], "type": "plugs",
                                        "capacity": plugs[has].astype(float)}))
        n_res += int(has.sum())
    ccap, crow = charger_capabilities(case, buf, bus, keep)
    if len(ccap):
        # the lot at the charger's buffer counts charging EVs (selector S_T of §3.6 item 2)
        first_lot = pd.Series(lot_res, index=lot_buf).groupby(level=0).first()
        lot_of_buf = np.full(len(buf), -1)
        lot_of_buf[first_lot.index.to_numpy()] = first_lot.to_numpy()
        add(ccap, [plug_res[crow], lot_of_buf[ccap["origin"].to_numpy()]])

    capdf = pd.concat(caps, ignore_index=True) if caps else _cap_frame(**{c: [] for c in CAP_COLUMNS})
    capdf = capdf.astype({"ev": int, "origin": int, "dest": int, "duration": int, "bus": int})
    # EV-major, stable (omtepf.md §1.4 ordering: per EV park, road, charging)
    order = np.argsort(capdf["ev"].to_numpy(), kind="stable")
    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))
    capdf = capdf.iloc[order].reset_index(drop=True)
    pc = inv[np.concatenate(pairs_c)] if pairs_c else np.zeros(0, int)
    pr = np.concatenate(pairs_r) if pairs_r else np.zeros(0, int)

    # ---------------- windows
    st = D.ev_steps(case)
    K = case.K
    mode = st["mode"].to_numpy(dtype=np.int8).reshape(n_ev, K)
    wb = buf.get_indexer(st["buffer"].astype(object).where(st["buffer"].notna(), "\x00")).reshape(n_ev, K)
    wc = st["charge"].to_numpy(dtype=bool).reshape(n_ev, K)
    return Fleet(
        name=case.name, K=K, ev_ids=ev_ids, buffer_ids=buf, bus_ids=bus, home=home,
        battery=evs["battery"].to_numpy(dtype=float), soc_init=evs["soc_init"].to_numpy(dtype=float),
        soc_final=evs["soc_final"].to_numpy(dtype=float), caps=capdf, cap_res_cap=pc, cap_res_res=pr,
        resources=pd.concat(res_frames, ignore_index=True), mode=mode, wbuf=wb, wcharge=wc,
        c_Q=float(case.costs["c_Q"]), options=dict(case.options),
    )


# ---------------------------------------------------------------------------------------------- firing set
@dataclass
class FiringSet:
    """Decision variables that survive windows and space–time reachability pruning (omtepf.md §7).

    ``x_cap``/``x_k``: capability row and step of each binary firing; ``q_ev``/``q_buf``/``q_k``: idle
    variables ``Q_{B,(v,b)}[k+1]``; horizon steps ``k0 .. k1-1``; ``start``: buffer of each EV at ``k0``.
    ``reach``: boolean (n_ev, n_buf, k1-k0+1) of (EV, buffer, marking) nodes on some feasible space–time path.
    """

    k0: int
    k1: int
    start: Array
    x_cap: Array
    x_k: Array
    q_ev: Array
    q_buf: Array
    q_k: Array
    reach: Array
    active: Array | None = None  # EVs modelled (default all); inactive EVs get no start token

    @property
    def n_x(self) -> int:
        return len(self.x_cap)

    @property
    def n_q(self) -> int:
        return len(self.q_ev)


def window_mask(fleet: Fleet, k0: int, k1: int, kinds: Iterable[str] | None = None) -> tuple[Array, Array]:
    """Window/eligibility masks: capabilities × steps ``(n_cap, k1-k0)`` and idle ``(n_ev, n_buf, k1-k0)``.

    omtepf.md §3.5: in a *stay* window only parking (and, with ``charge``, charging) at the window's buffer;
    in a *travel* window roads anywhere, queueing anywhere, parking/charging only at the destination; steps
    without a window are free.
    """
    c = fleet.caps
    ks = np.arange(k0, k1)
    ev = c["ev"].to_numpy()
    kind = c["kind"].to_numpy(dtype=object)
    org = c["origin"].to_numpy()
    m = fleet.mode[ev][:, ks]
    wb = fleet.wbuf[ev][:, ks]
    wc = fleet.wcharge[ev][:, ks]
    at = org[:, None] == wb
    is_park = (kind == "park")[:, None]
    is_road = np.isin(kind, ROAD_KINDS)[:, None]
    is_chg = np.isin(kind, CHARGER_KINDS)[:, None]
    free = m == FREE
    ok = free.copy()
    ok |= is_park & at & (m != FREE)
    ok |= is_chg & at & wc & (m != FREE)
    ok |= is_road & (m == TRAVEL)
    # transitions must end within the horizon
    dur = c["duration"].to_numpy()
    ok &= (ks[None, :] + dur[:, None]) <= k1
    # a multi-step transition must not cover a later stay step (the EV must fire a park/charge there)
    if (dur > 1).any():
        K = fleet.K
        cs = np.concatenate([np.zeros((fleet.n_ev, 1), int), np.cumsum(fleet.mode == STAY, axis=1)], axis=1)
        lo = np.minimum(ks[None, :] + 1, K)
        hi = np.minimum(ks[None, :] + dur[:, None], K)
        covered = cs[ev[:, None], hi] - cs[ev[:, None], np.broadcast_to(lo, hi.shape)]
        ok &= covered == 0
    if kinds is not None:
        ok &= np.isin(kind, list(kinds))[:, None]
    idle = np.broadcast_to(((fleet.mode[:, ks] == FREE) | (fleet.mode[:, ks] == TRAVEL))[:, None, :],
                           (fleet.n_ev, fleet.n_buf, len(ks))).copy()
    return ok, idle


def firing_set(fleet: Fleet, k0: int = 0, k1: int | None = None, start: Array | None = None,
               prune: bool = True, kinds: Iterable[str] | None = None) -> FiringSet:
    """Enumerate firings and idle variables of the horizon ``k0 .. k1-1`` (omtepf.md §7).

    Forward reachability from ``start`` (default: homes) and backward co-reachability (a node must lie on a
    path that lasts until ``k1`` respecting windows) remove every variable that cannot be 1 in a feasible
    plan. With ``prune=False`` only windows/eligibility are applied; ``kinds`` restricts the capability kinds
    (the uncoordinated transport MILPs use ``{"park", "road"}``).
    """
    k1 = fleet.K if k1 is None else int(k1)
    T = k1 - k0
    start = fleet.home.copy() if start is None else np.asarray(start, dtype=int)
    ok, idle = window_mask(fleet, k0, k1, kinds)
    c = fleet.caps
    ev = c["ev"].to_numpy()
    org = c["origin"].to_numpy()
    dst = c["dest"].to_numpy()
    dur = c["duration"].to_numpy()
    V, B = fleet.n_ev, fleet.n_buf
    reach = np.zeros((V, B, T + 1), dtype=bool)
    reach[np.arange(V), start, 0] = True
    if prune:
        for t in range(T):
            ok[:, t] &= reach[ev, org, t]
            idle[:, :, t] &= reach[:, :, t]
            reach[:, :, t + 1] |= idle[:, :, t]
            f = np.flatnonzero(ok[:, t])
            reach[ev[f], dst[f], t + dur[f]] = True
        alive = reach.copy()
        alive[:, :, :T] = False
        for t in range(T - 1, -1, -1):
            ok[:, t] &= alive[ev, dst, np.minimum(t + dur, T)]
            idle[:, :, t] &= alive[:, :, t + 1]
            out = idle[:, :, t].copy()
            f = np.flatnonzero(ok[:, t])
            out[ev[f], org[f]] = True
            alive[:, :, t] = reach[:, :, t] & out
        reach = alive
    xc, xt = np.nonzero(ok)
    o = np.lexsort((xt, xc))  # capability-major (EV-major), then step
    qv, qb, qt = np.nonzero(idle)
    return FiringSet(k0=k0, k1=k1, start=start, x_cap=xc[o], x_k=k0 + xt[o], q_ev=qv, q_buf=qb, q_k=k0 + qt,
                     reach=reach)


# ---------------------------------------------------------------------------------------------- block
@dataclass
class TransportVars:
    """Variable blocks of the transport block: binary firings ``x`` and idle ``q``."""

    x: VarBlock
    q: VarBlock
    fleet: Fleet
    fs: FiringSet


def conservation_matrices(fleet: Fleet, fs: FiringSet) -> tuple[sp.csr_matrix, sp.csr_matrix, Array, Array]:
    """EV conservation rows (eq. 8, EV block) over nodes (v, b, k), k = k0..k1-1.

    Returns ``(Ax, Aq, rhs, node)`` with ``Ax x + Aq q = rhs`` (``in - out = -initial``) restricted to the
    nodes touched by some variable; ``node`` is the flat node number ``(v*B + b)*T + (k-k0)``.
    """
    c = fleet.caps
    B, T = fleet.n_buf, fs.k1 - fs.k0
    ev = c["ev"].to_numpy()[fs.x_cap]
    org = c["origin"].to_numpy()[fs.x_cap]
    dst = c["dest"].to_numpy()[fs.x_cap]
    dur = c["duration"].to_numpy()[fs.x_cap]
    t = fs.x_k - fs.k0
    n_nodes = fleet.n_ev * B * T
    out_node = (ev * B + org) * T + t
    arr_t = t + dur
    arr_ok = arr_t < T
    in_node = (ev * B + dst) * T + arr_t
    rows = np.concatenate([out_node, in_node[arr_ok]])
    cols = np.concatenate([np.arange(fs.n_x), np.flatnonzero(arr_ok)])
    vals = np.concatenate([-np.ones(fs.n_x), np.ones(int(arr_ok.sum()))])
    Ax = sp.csr_matrix((vals, (rows, cols)), shape=(n_nodes, fs.n_x))
    qt = fs.q_k - fs.k0
    qn = (fs.q_ev * B + fs.q_buf) * T + qt
    nxt = qt + 1 < T
    rows = np.concatenate([qn, (qn + 1)[nxt]])
    cols = np.concatenate([np.arange(fs.n_q), np.flatnonzero(nxt)])
    vals = np.concatenate([-np.ones(fs.n_q), np.ones(int(nxt.sum()))])
    Aq = sp.csr_matrix((vals, (rows, cols)), shape=(n_nodes, fs.n_q))
    rhs = np.zeros(n_nodes)
    act = np.arange(fleet.n_ev) if fs.active is None else np.flatnonzero(fs.active)
    rhs[(act * B + fs.start[act]) * T] = -1.0
    used = np.unique(np.concatenate([Ax.tocoo().row, Aq.tocoo().row,
                                     np.flatnonzero(rhs)]))
    return Ax[used], Aq[used], rhs[used], used


def resource_matrix(fleet: Fleet, fs: FiringSet) -> tuple[sp.csr_matrix, Array, pd.MultiIndex]:
    """Capacity rows (§3.6 items 1–3): per (resource, step) ``sum x <= capacity``; redundant rows dropped."""
    T = fs.k1 - fs.k0
    R = len(fleet.resources)
    M = sp.csr_matrix((np.ones(len(fleet.cap_res_cap)), (fleet.cap_res_res, fleet.cap_res_cap)),
                      shape=(R, len(fleet.caps)))
    Mx = M[:, fs.x_cap].tocoo()  # resource x firing
    rows = Mx.row * T + (fs.x_k[Mx.col] - fs.k0)
    A = sp.csr_matrix((Mx.data, (rows, Mx.col)), shape=(R * T, fs.n_x))
    cap = np.repeat(fleet.resources["capacity"].to_numpy(dtype=float), T)
    cnt = np.diff(A.indptr)
    keep = np.flatnonzero(cnt > cap)
    idx = pd.MultiIndex.from_arrays([fleet.resources["id"].to_numpy()[keep // T], fs.k0 + keep % T],
                                    names=["resource", "k"])
    return A[keep], cap[keep], idx


def add_transport(prog: Program, fleet: Fleet, fs: FiringSet, *, integer: bool = True,
                  objective: bool = True) -> TransportVars:
    """Emit the EV transport block (omtepf.md §3.3, §3.5, §3.6 items 1–3, eqs. 59–60) into ``prog``.

    Adds variable blocks ``x`` (firings, binary) and ``q`` (idle, [0,1]), row blocks ``ev_conservation`` and
    ``capacity``, and the transport objective ``C_T + C_Q`` (cost per traversal, ``c_Q`` per queued step).
    """
    c = fleet.caps
    xi = pd.MultiIndex.from_arrays([fleet.ev_ids[c["ev"].to_numpy()[fs.x_cap]], fs.x_k, fs.x_cap],
                                   names=["ev", "k", "cap"])
    x = prog.add_vars("x", xi, lb=0.0, ub=1.0, integer=integer)
    qi = pd.MultiIndex.from_arrays([fleet.ev_ids[fs.q_ev], fs.q_k, fleet.buffer_ids[fs.q_buf]],
                                   names=["ev", "k", "buffer"])
    q = prog.add_vars("q", qi, lb=0.0, ub=1.0)
    Ax, Aq, rhs, _ = conservation_matrices(fleet, fs)
    prog.add_rows("ev_conservation", [(x, Ax), (q, Aq)], lo=rhs, hi=rhs)
    A, cap, idx = resource_matrix(fleet, fs)
    if A.shape[0]:
        prog.add_rows("capacity", [(x, A)], hi=cap, index=idx)
    if objective:
        prog.add_objective(x, c["cost"].to_numpy(dtype=float)[fs.x_cap])
        prog.add_objective(q, fleet.c_Q)
    return TransportVars(x=x, q=q, fleet=fleet, fs=fs)


def decode_firings(fleet: Fleet, fs: FiringSet, xval: Array) -> pd.DataFrame:
    """Firings with value 1 as the contract table of :class:`~tenflow.problems.omtepf_solution.OmtepfSolution`."""
    sel = np.flatnonzero(np.asarray(xval) > 0.5)
    return firings_frame(fleet, fs.x_cap[sel], fs.x_k[sel])


def firings_frame(fleet: Fleet, cap: Array, k: Array) -> pd.DataFrame:
    """Contract firing table for capability rows ``cap`` started at steps ``k``."""
    c = fleet.caps.iloc[np.asarray(cap, dtype=int)]
    busi = c["bus"].to_numpy()
    bus = fleet.bus_ids.to_numpy(dtype=object)[np.maximum(busi, 0)].copy()
    bus[busi < 0] = None
    df = pd.DataFrame({
        "ev": fleet.ev_ids.to_numpy(dtype=object)[c["ev"].to_numpy()],
        "k": np.asarray(k, dtype=int),
        "kind": c["kind"].to_numpy(dtype=object),
        "component": c["component"].to_numpy(dtype=object),
        "origin": fleet.buffer_ids.to_numpy(dtype=object)[c["origin"].to_numpy()],
        "dest": fleet.buffer_ids.to_numpy(dtype=object)[c["dest"].to_numpy()],
        "bus": bus,
        "rate": c["rate"].to_numpy(dtype=float),
        "current_re": c["current_re"].to_numpy(dtype=float),
        "current_im": c["current_im"].to_numpy(dtype=float),
        "charge": c["charge"].to_numpy(dtype=float) - np.where(c["kind"].to_numpy() == "v2g",
                                                              c["discharge"].to_numpy(dtype=float), 0.0),
        "cap": np.asarray(cap, dtype=int),
    })
    return df.sort_values(["k", "ev"], kind="stable").reset_index(drop=True)


def decode_idle(fleet: Fleet, fs: FiringSet, qval: Array) -> pd.DataFrame:
    """Queued EV-steps (``Q_B[k+1] = 1``) as the contract idle table."""
    sel = np.flatnonzero(np.asarray(qval) > 0.5)
    return pd.DataFrame({"ev": fleet.ev_ids.to_numpy(dtype=object)[fs.q_ev[sel]], "k": fs.q_k[sel],
                         "buffer": fleet.buffer_ids.to_numpy(dtype=object)[fs.q_buf[sel]]})
