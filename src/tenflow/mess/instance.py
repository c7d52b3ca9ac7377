"""Numeric arrays of the discretised MESS problem P_Δ (mess.md §6.1, algorithm step 1 of §6.2).

A :class:`MessInstance` holds everything the optimiser, the monolithic MILP and the brute-force checker need:

* the grid (``n_steps`` = J, step ``dt_h``, start ``t0_h``), the SoC levels ``q = 0..L`` (``n_levels`` = L+1) and
  the bucket ``delta_kwh``;
* per truck type a :class:`TypeArrays`: availability steps ``a <= j0 < j_e <= b``, levels ``qmin, qmax, qdep``,
  the trip graph (:class:`tenflow.core.tsdp.TSGraph`, nodes = case nodes plus one *idle* pseudo-node that stands
  for "at the depot before the trip starts": it carries copies of the depot's travel arcs and the depot charging
  arcs, so a trip's first arc is a travel or depot charging arc), per-arc kind / charger / km, and the base cost of a
  swap by arrival step and delivered level;
* per site a :class:`SiteArrays`: cumulative demand ``D`` on the grid, initial energy, reserve and end energies,
  swap window (arrival ``>= ws``, completion ``<= we``) and the per-step site-period wear table ``W[m, l, d]``
  (step ``m``, level ``l`` at ``t_m`` and ``d = l - l'`` levels lost by ``t_{m+1}``);
* the plug-limited chargers (resources of the master) and the constant idle-pack calendar term.

Site-pack trajectories (rule 3 of §6.1): a pack installed at step ``j`` with energy ``e`` has energy
``e - (D[m] - D[j])`` at step ``m`` and level ``floor(energy/δ + ε)``; it may be removed at completion step ``j'``
iff that energy is ``>= reserve`` (tolerance :data:`TOL_KWH`), and the truck continues with the level of the
removal energy. :func:`site_walk` is the one definition of this arithmetic (the DP kernels repeat it verbatim).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tenflow.core.tsdp import TSGraph

EPS = 1e-9
TOL_KWH = 1e-7

KIND_TRAVEL, KIND_WAIT, KIND_CHARGE = 0, 1, 2
KIND_NAMES = {KIND_TRAVEL: "travel", KIND_WAIT: "wait", KIND_CHARGE: "charge"}


@dataclass
class TypeArrays:
    """One truck type's trip graph and data (identical trucks, §2.3)."""

    name: str
    count: int
    truck_ids: list[str]
    a: int  # earliest trip start step
    b: int  # latest trip end step
    qmin: int
    qmax: int
    qdep: int
    wage_h: float
    graph: TSGraph
    kind: np.ndarray  # int8[A]
    charger: np.ndarray  # int32[A]: index into MessInstance.charger_nodes (-1: not a charge arc)
    km: np.ndarray  # float[A]
    swap_cost: np.ndarray  # float[n_sites, S, Q]: base cost of a swap arriving at j with delivered level q
    serves: np.ndarray  # bool[n_sites]: the type's pack size matches the site's
    #: road arc (u, v) -> traction energy (kWh, net of recuperation) per departure step (NaN: not usable); for the
    #: §8 diagnostics only (``None`` when the instance was not built from a case)
    leg_kwh: dict[tuple[int, int], np.ndarray] | None = None
    _memo: dict[tuple[Any, ...], np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def source(self, idle: int) -> np.ndarray:
        """Trip starts: ``(idle, j0, qdep)`` for ``a <= j0``, cost 0 (read-only array, memoised)."""
        g = self.graph
        key = ("source", idle, self.a, self.qdep, g.state_shape())
        hit = self._memo.get(key)
        if hit is None:
            hit = np.full(g.state_shape(), np.inf)
            hit[idle, self.a :, self.qdep] = 0.0
            hit.setflags(write=False)
            self._memo = {**{k: v for k, v in self._memo.items() if k[0] != "source"}, key: hit}
        return hit

    def sink(self, depot: int) -> np.ndarray:
        """Trip ends: ``(depot, j_e, q)`` with ``j_e <= b`` and ``q >= qdep``, cost 0 (read-only array, memoised)."""
        g = self.graph
        key = ("sink", depot, self.b, self.qdep, self.qmax, g.state_shape())
        hit = self._memo.get(key)
        if hit is None:
            hit = np.full(g.state_shape(), np.inf)
            hit[depot, : self.b + 1, self.qdep : self.qmax + 1] = 0.0
            hit.setflags(write=False)
            self._memo = {**{k: v for k, v in self._memo.items() if k[0] != "sink"}, key: hit}
        return hit


@dataclass
class SiteArrays:
    """One site's chain data (rules 2–3 of §6.1)."""

    node: int
    name: str
    D: np.ndarray  # float[S] cumulative demand kWh at t_j
    e0: float  # initial pack energy kWh
    reserve_kwh: float
    endmin_kwh: float
    ws: int  # earliest swap arrival step
    we: int  # latest swap completion step
    W: np.ndarray  # float[S-1, Q, dmax+1] site-period wear per step
    credit: float = 0.0  # $/kWh for energy left at work end


@dataclass
class MessInstance:
    """The discretised problem P_Δ as arrays (see module docstring)."""

    name: str
    n_steps: int
    dt_h: float
    t0_h: float
    n_levels: int
    delta_kwh: float
    node_ids: list[Any]
    depot: int
    n_sigma: int
    types: list[TypeArrays]
    sites: list[SiteArrays]
    charger_nodes: list[Any]  # charger labels (node id or "depot"), index = TypeArrays.charger
    res_charger: np.ndarray  # int32[R]: charger index of each plug-limited resource
    res_plugs: np.ndarray  # int[R]
    const: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def idle(self) -> int:
        """Index of the idle pseudo-node (at the depot before a trip starts)."""
        return len(self.node_ids)

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids) + 1

    @property
    def S(self) -> int:
        return self.n_steps + 1

    @property
    def n_res(self) -> int:
        return int(self.res_plugs.shape[0])

    def time_h(self, j: float | np.ndarray) -> Any:
        return self.t0_h + np.asarray(j) * self.dt_h

    def node_label(self, v: int) -> Any:
        return self.node_ids[self.depot] if v == self.idle else self.node_ids[v]


# ------------------------------------------------------------------------------------------- site arithmetic
def level_of(energy: float | np.ndarray, delta: float) -> Any:
    """Conservative level ``floor(energy/δ + ε)`` (§6.1)."""
    return np.floor(np.asarray(energy) / delta + EPS).astype(np.int64)


def site_walk(site: SiteArrays, delta: float, j: int, e: float, j_end: int) -> tuple[list[float], list[int], float]:
    """Trajectory of a site pack installed at step ``j`` with energy ``e`` up to step ``j_end``.

    Returns (energies at steps j..j_end, levels at those steps, accumulated site-period wear); the wear is
    ``Σ_m W[m, l_m, l_m - l_{m+1}]`` (base cost, §6.1 objective). The walk stops at the first step whose energy is
    below the reserve (that energy is the last one returned, the wear is ``inf``).
    """
    es = [float(e)]
    ls = [int(math.floor(e / delta + EPS))]
    acc = 0.0
    for m in range(j, j_end):
        e1 = e - (site.D[m + 1] - site.D[j])
        l1 = int(math.floor(e1 / delta + EPS))
        if e1 < site.reserve_kwh - TOL_KWH:  # depleted: the trajectory is infeasible from here on
            es.append(float(e1))
            ls.append(l1)
            return es, ls, math.inf
        acc = acc + float(site.W[m, ls[-1], ls[-1] - l1])
        es.append(float(e1))
        ls.append(l1)
    return es, ls, acc


def build_graph(n_real: int, depot: int, n_steps: int, n_levels: int,
                travel: list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray, float]],
                waits: list[tuple[int, np.ndarray]],
                charges: list[tuple[int, int, int, np.ndarray, np.ndarray]],
                ) -> tuple[TSGraph, np.ndarray, np.ndarray, np.ndarray]:
    """Assemble a type's trip graph with the idle pseudo-node ``n_real``.

    Parameters
    ----------
    travel
        ``(u, v, nsteps[S], qmap[S, Q], cost[S, Q], km)`` per road arc.
    waits
        ``(node, cost[S, Q])``: 1-step wait arcs (level unchanged; unusable at the last step).
    charges
        ``(node, charger_index, res, qmap[S, Q], cost[S, Q])``: 1-step charging arcs, one per number of buckets.
    Depot travel arcs and depot charging arcs are duplicated from the idle node.
    Returns (graph, kind, charger, km).
    """
    S, Q = n_steps + 1, n_levels
    idle = n_real
    frm: list[int] = []
    to: list[int] = []
    ns: list[np.ndarray] = []
    qm: list[np.ndarray] = []
    co: list[np.ndarray] = []
    occ: list[bool] = []
    res: list[int] = []
    kind: list[int] = []
    chg: list[int] = []
    km: list[float] = []
    one = np.ones(S, dtype=np.int32)
    one[-1] = -1

    def add(u: int, v: int, n: np.ndarray, q: np.ndarray, c: np.ndarray, r: int, k: int, ch: int, d: float) -> None:
        frm.append(u)
        to.append(v)
        ns.append(n)
        qm.append(q)
        co.append(c)
        occ.append(True)
        res.append(r)
        kind.append(k)
        chg.append(ch)
        km.append(d)

    for u, v, n, q, c, d in travel:
        add(u, v, n, q, c, -1, KIND_TRAVEL, -1, d)
    for node, c in waits:
        add(node, node, one, np.broadcast_to(np.arange(Q, dtype=np.int32), (S, Q)), c, -1, KIND_WAIT, -1, 0.0)
    for node, ch, r, q, c in charges:
        add(node, node, one, q, c, r, KIND_CHARGE, ch, 0.0)
    for u, v, n, q, c, d in travel:
        if u == depot:
            add(idle, v, n, q, c, -1, KIND_TRAVEL, -1, d)
    for node, ch, r, q, c in charges:
        if node == depot:
            add(idle, depot, one, q, c, r, KIND_CHARGE, ch, 0.0)
    A = len(frm)
    if A == 0:
        raise ValueError("a type has no arcs")
    nsa = np.empty((A, S), dtype=np.int32)
    qma = np.empty((A, S, Q), dtype=np.int32)
    coa = np.empty((A, S, Q), dtype=np.float64)
    for a in range(A):  # one block copy per arc (no intermediate stacked copies)
        nsa[a] = ns[a]
        qma[a] = qm[a]
        coa[a] = co[a]
    g = TSGraph(n_real + 1, n_steps, n_levels, np.array(frm), np.array(to), nsa, qma, coa, np.array(occ),
                np.array(res))
    return g, np.array(kind, dtype=np.int8), np.array(chg, dtype=np.int32), np.array(km, dtype=float)


# ------------------------------------------------------------------------------------------- from a case
def load_case_any(case: Any) -> Any:
    """A :class:`~tenflow.mess.case.MessCase` from a case object, a built-in name or a folder path."""
    from tenflow.mess.case import MessCase, load_mess_case

    if isinstance(case, MessCase):
        return case
    return load_mess_case(case)


def _ceil(x: float) -> int:
    return int(math.ceil(x - EPS))


def _floor(x: float) -> int:
    return int(math.floor(x + EPS))


def build_instance(case: Any, degradation: str | None = None, *, step_min: float | None = None,
                   soc_bucket: float | None = None) -> MessInstance:
    """Discretise a MESS case into the arrays of P_Δ (mess.md §6.1; §6.2 step 1).

    Travel arcs per type, road arc and departure step: ``n = ⌈τ/Δ − ε⌉`` steps (physics + traffic of
    :mod:`tenflow.mess.physics`), level map from the exact energy integration with the ``soc_max`` cap
    (:meth:`~tenflow.mess.physics.Leg.level_map`), cost ``km·(toll+maintenance) + wage·nΔ`` + wear of the carried
    pack (calendar linear over nΔ minus the idle correction ``nΔ·r(s_dep)``, cycle with the leg's C-rate; leg models:
    ``leg(s, s', t_j, t_{j+n})``). Wait arcs at depot/charger/site nodes; charging arcs (1 step, +m buckets,
    ``m ≤ ⌊P_eff·η·Δ/δ + ε⌋``) buying ``mδ/η`` at the price of the hour containing ``t_j`` plus fees. Swaps pay wage
    and the delivered pack's calendar over ``n_σΔ``. Site demand ``D`` on the grid and per-step site wear tables;
    constant ``N_trucks·H·r(s_dep)``.
    """
    from tenflow.errors import CaseError
    from tenflow.mess.degradation import BatteryParams, make_model
    from tenflow.mess.demand import site_demand
    from tenflow.mess.physics import LegModel
    from tenflow.mess.prices import depot_prices, price_table

    cfg = case.config
    start, end = case.horizon
    dt = float(step_min if step_min is not None else cfg["time"]["step_min"]) / 60.0
    J = int(round((end - start) / dt))
    if abs(J * dt - (end - start)) > 1e-9 or J <= 0:
        raise CaseError(f"horizon {start}–{end} h is not a multiple of the step {dt * 60:g} min", file="case.toml",
                        field="time.step_min", code="E-GRID")
    bucket = float(soc_bucket if soc_bucket is not None else cfg["soc"]["bucket"])
    L = int(round(1.0 / bucket))
    if abs(L * bucket - 1.0) > 1e-9:
        raise CaseError(f"1/bucket = {1 / bucket:g} is not an integer", file="case.toml", field="soc.bucket",
                        code="E-GRID")
    S, Q = J + 1, L + 1
    model_name = str(degradation or cfg["battery"]["model"])
    node_ids = list(case.nodes["id"])
    idx = {v: i for i, v in enumerate(node_ids)}
    roles = dict(zip(case.nodes["id"], case.nodes["role"], strict=True))
    depot = idx[case.depot]
    s_dep = float(cfg["depot"]["s_dep"])
    costs = cfg["costs"]
    per_km = float(costs["toll_per_km"]) + float(costs["maintenance_per_km"])
    fee_all = float(costs["charge_fee_per_kwh"])
    n_sigma = max(1, _ceil(float(costs["service_min"]) / 60.0 / dt))
    credit = float(costs.get("end_energy_credit_per_kwh", 0.0) or 0.0)
    tt = case.truck_types()
    packs = sorted({float(x) for x in tt["mess_kwh"]})
    if len(packs) != 1:
        raise CaseError(f"the optimiser needs one pack size for all truck types (found {packs} kWh)",
                        file="trucks.csv", field="mess_kwh", code="E-FLEET")
    pack = packs[0]
    delta = bucket * pack
    model = make_model(model_name, BatteryParams.from_mapping(cfg["battery"], pack))
    leg_model = bool(model.is_leg_model)
    r_dep = 0.0 if leg_model else float(model.calendar_rate(s_dep))
    t_grid = start + np.arange(S) * dt
    hours = np.floor(t_grid + EPS).astype(np.int64) % 24
    lev = np.arange(Q, dtype=float) / L
    # chargers: (node index, label, power, plugs, efficiency, fee, hourly price)
    ptab = price_table(case)
    chargers: list[tuple[int, Any, float, int, float, float, np.ndarray]] = []
    for _, c in case.chargers.iterrows():
        sub = ptab[ptab["bus"].astype(str) == str(c["bus"])].set_index("hour")["price_per_kwh"]
        pr = sub.reindex(range(24)).to_numpy(float)
        if np.isnan(pr).any():
            raise CaseError(f"charger {c['node']} (bus {c['bus']}): no price for some hours", file="prices.csv",
                            code="E-PRICE")
        chargers.append((idx[c["node"]], c["node"], float(c["power_kw"]), int(c["plugs"]), float(c["efficiency"]),
                         float(c["fee_per_kwh"]), pr))
    if float(cfg["depot"]["charger_kw"]) > 0:
        pr = depot_prices(case, ptab)
        if np.isnan(pr).any():
            raise CaseError("depot charger: no price (depot.price_flat or depot.price_bus)", file="case.toml",
                            field="depot.price_flat", code="E-PRICE")
        chargers.append((depot, "depot", float(cfg["depot"]["charger_kw"]), int(cfg["depot"]["plugs"]),
                         float(cfg["depot"]["efficiency"]), 0.0, pr))
    charger_labels = [c[1] for c in chargers]
    res_charger = np.array([i for i, c in enumerate(chargers) if c[3] > 0], dtype=np.int32)
    res_plugs = np.array([c[3] for c in chargers if c[3] > 0], dtype=np.int64)
    res_of = {int(c): r for r, c in enumerate(res_charger)}
    # sites
    sites: list[SiteArrays] = []
    site_pack: list[float] = []
    for _, s in case.sites.iterrows():
        sp_kwh = float(s["mess_kwh"])
        site_pack.append(sp_kwh)
        dem = site_demand(case, s["node"])
        D = np.asarray(dem.D(t_grid), dtype=float)
        D = D - D[0] if D[0] != 0 else D
        draw = np.diff(D)
        dmax = int(math.ceil(float(draw.max(initial=0.0)) / delta)) + 2
        la = np.arange(Q)[None, :, None]
        dd = np.arange(dmax)[None, None, :]
        lb = np.clip(la - dd, 0, None)
        if leg_model:
            W = np.zeros((J, Q, dmax))
        else:
            sa = np.broadcast_to(la / L, (J, Q, dmax))
            sb = np.broadcast_to(lb / L, (J, Q, dmax))
            cr = np.broadcast_to((draw / (sp_kwh * dt))[:, None, None], (J, Q, dmax))
            W = (np.asarray(model.calendar(sa, sb, np.full((J, Q, dmax), dt)))
                 + np.asarray(model.cycle(sa, sb, cr)))
        esm = s["end_soc_min"]
        esm = float(s["reserve_soc"]) if esm is None or (isinstance(esm, float) and math.isnan(esm)) else float(esm)
        sites.append(SiteArrays(
            node=idx[s["node"]], name=str(s["node"]), D=D, e0=float(s["soc_init"]) * sp_kwh,
            reserve_kwh=float(s["reserve_soc"]) * sp_kwh, endmin_kwh=max(float(s["reserve_soc"]), esm) * sp_kwh,
            ws=max(0, _ceil((float(s["window_start"]) - start) / dt)),
            we=min(J, _floor((float(s["window_end"]) - start) / dt)), W=np.ascontiguousarray(W), credit=credit))
    # types
    lm = LegModel(case)
    ckey = _case_key(case)
    arc_sig = [(str(z), float(d), float(gr), float(fs)) for d, gr, z, fs in
               zip(case.arcs["length_km"], case.arcs["grade_pct"], case.arcs["zone_km"], case.arcs["free_speed_kmh"],
                   strict=True)]
    arcs = [(idx[a], idx[b]) for a, b in zip(case.arcs["from"], case.arcs["to"], strict=True)]
    arc_ids = list(zip(case.arcs["from"], case.arcs["to"], strict=True))
    types: list[TypeArrays] = []
    n_trucks = 0
    qarr = np.arange(Q)
    for _, r in tt.iterrows():
        name = str(r["type"])
        wage = float(r["wage_per_h"])
        qmin = _ceil(float(r["soc_min"]) * L)
        qmax = _floor(float(r["soc_max"]) * L)
        qdep = _ceil(s_dep * L)
        a0 = float(r["avail_start"]) if not pd_isna(r["avail_start"]) else start
        b0 = float(r["avail_end"]) if not pd_isna(r["avail_end"]) else end
        a = max(0, _ceil((a0 - start) / dt))
        b = min(J, _floor((b0 - start) / dt))
        travel = []
        legs_e: dict[tuple[int, int], np.ndarray] = {}
        tkey = (ckey, tuple(str(x) for x in r.to_numpy()), J, dt, start, delta, qmin, Q, pack)
        legs_cached = _LEG_CACHE.get(tkey)
        legs_new: list[tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]] = []
        by_sig: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]] = {}
        cost_memo: dict[tuple[int, int, int, float], np.ndarray] = {}
        for n_arc, ((u, v), (fu, fv)) in enumerate(zip(arcs, arc_ids, strict=True)):
            if legs_cached is not None:
                ns_arr, qm, crate, km, ekwh = legs_cached[n_arc]
            else:
                # roads with the same length, grade, zones and free speed drive identically (physics.LegModel)
                hit = by_sig.get(arc_sig[n_arc])
                if hit is None:
                    hit = _type_leg_arrays(lm, name, fu, fv, t_grid, J, dt, delta, qmin, Q, pack)
                    by_sig[arc_sig[n_arc]] = hit
                ns_arr, qm, crate, km, ekwh = hit
                legs_new.append(hit)
            ckey_arc = (id(ns_arr), id(qm), id(crate), km)
            cost = cost_memo.get(ckey_arc)  # arcs sharing their leg arrays share the cost table
            if cost is None:
                ok = qm >= 0
                q2 = np.where(ok, qm, qarr[None, :])
                nn = np.maximum(ns_arr, 0).astype(float)
                h = np.broadcast_to((nn * dt)[:, None], (S, Q))
                s1 = np.broadcast_to(lev[None, :], (S, Q))
                s2 = q2 / L
                if leg_model:
                    t1 = np.broadcast_to((t_grid + nn * dt)[:, None], (S, Q))
                    wear: np.ndarray = np.asarray(model.leg(s1, s2, np.broadcast_to(t_grid[:, None], (S, Q)), t1))
                else:
                    wear = (np.asarray(model.calendar(s1, s2, h)) - h * r_dep
                            + np.asarray(model.cycle(s1, s2, np.broadcast_to(crate[:, None], (S, Q)))))
                cost = km * per_km + wage * h + wear
                cost = np.where(ok, cost, 0.0)
                cost_memo[ckey_arc] = cost
            travel.append((u, v, ns_arr, qm, cost, km))
            legs_e[(u, v)] = ekwh
        if legs_cached is None:
            for arr in by_sig.values():
                for x in (arr[0], arr[1], arr[2], arr[4]):
                    x.setflags(write=False)
            if len(_LEG_CACHE) >= 16:
                _LEG_CACHE.pop(next(iter(_LEG_CACHE)))
            _LEG_CACHE[tkey] = legs_new
        waits = []
        okq: np.ndarray = (qarr >= qmin) & (qarr <= qmax)
        wcal = np.zeros(Q) if leg_model else np.asarray(model.calendar(lev, lev, np.full(Q, dt))) - dt * r_dep
        for node in node_ids:
            if str(roles[node]) == "junction":
                continue
            waits.append((idx[node], np.broadcast_to(wage * dt + wcal, (S, Q)).copy()))
        charges = []
        for ci, (node, _lab, pkw, _pl, eta, fee, pr) in enumerate(chargers):
            p_eff = min(pkw, float(r["max_charge_kw"]))
            cmax = _floor(p_eff * eta * dt / delta)
            price_j = pr[hours] + fee + fee_all
            for m in range(1, cmax + 1):
                q2 = qarr + m
                okm = okq & (q2 <= qmax)
                qmm = np.broadcast_to(np.where(okm, q2, -1), (S, Q)).astype(np.int32)
                s2 = np.minimum(q2, L) / L
                if leg_model:
                    wear = np.zeros(Q)
                else:
                    wear = (np.asarray(model.calendar(lev, s2, np.full(Q, dt))) - dt * r_dep
                            + np.asarray(model.cycle(lev, s2)))
                cost = (price_j[:, None] * (m * delta / eta)) + wage * dt + wear[None, :]
                cost = np.where(qmm >= 0, cost, 0.0)
                charges.append((node, ci, res_of.get(ci, -1), qmm, cost))
        g, kind, chg, kms = build_graph(len(node_ids), depot, J, Q, travel, waits, charges)
        # waits only within [qmin, qmax]
        wsel = kind == KIND_WAIT
        g.qmap[wsel] = np.where(okq[None, None, :], g.qmap[wsel], -1)
        hsw = n_sigma * dt
        scal = np.zeros(Q) if leg_model else np.asarray(model.calendar(lev, lev, np.full(Q, hsw))) - hsw * r_dep
        swap = np.broadcast_to(wage * hsw + scal, (len(sites), S, Q)).copy()
        ids = [str(x) for x in r["ids"]]
        serves = np.array([abs(p - float(r["mess_kwh"])) < 1e-9 for p in site_pack], dtype=bool)
        types.append(TypeArrays(name=name, count=int(r["count"]), truck_ids=ids, a=a, b=b, qmin=qmin, qmax=qmax,
                                qdep=qdep, wage_h=wage, graph=g, kind=kind, charger=chg, km=kms, swap_cost=swap,
                                serves=serves, leg_kwh=legs_e))
        n_trucks += int(r["count"])
    for i, s in enumerate(sites):
        if not any(t.serves[i] for t in types):
            raise CaseError(f"site {s.name}: no truck type carries a {site_pack[i]:g} kWh pack", file="sites.csv",
                            field="mess_kwh", code="E-FLEET")
    const = n_trucks * (end - start) * r_dep
    return MessInstance(name=str(case.name), n_steps=J, dt_h=dt, t0_h=float(start), n_levels=Q, delta_kwh=delta,
                        node_ids=node_ids, depot=depot, n_sigma=n_sigma, types=types, sites=sites,
                        charger_nodes=charger_labels, res_charger=res_charger, res_plugs=res_plugs, const=const,
                        info={"model": model_name, "pack_kwh": pack})


#: per-type road-arc arrays (steps, level maps, C-rates, km, energies) by content key: they do not depend on the
#: degradation model, so building the same case for another model reuses them (§6.7 "arc tables once per type")
_LEG_CACHE: dict[tuple[Any, ...], list[tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]]] = {}


def _case_key(case: Any) -> bytes:
    """Content digest of everything the travel arcs depend on (config, nodes, arcs, speed factors, trucks)."""
    import hashlib
    import json

    import pandas as pd

    h = hashlib.sha256(json.dumps(case.config, sort_keys=True, default=str).encode())
    for name in ("nodes", "arcs", "speed_factors", "trucks"):
        df = getattr(case, name, None)
        if df is None:
            continue
        h.update(name.encode() + repr(list(df.columns)).encode() + repr(df.dtypes.tolist()).encode())
        h.update(pd.util.hash_pandas_object(df.astype(str), index=False).to_numpy().tobytes())
    return h.digest()


def _type_leg_arrays(lm: Any, name: str, fu: Any, fv: Any, t_grid: np.ndarray, J: int, dt: float, delta: float,
                     qmin: int, Q: int, pack: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    """Steps, level map, C-rate and traction energy of one road arc for every departure step (§6.1 travel arcs)."""
    S = J + 1
    ns_arr = np.full(S, -1, dtype=np.int32)
    qm = np.full((S, Q), -1, dtype=np.int32)
    crate = np.zeros(S)
    ekwh = np.full(S, np.nan)
    km = 0.0
    memo: dict[int, tuple[Any, np.ndarray]] = {}
    for j in range(J):
        lg = lm.leg(name, fu, fv, float(t_grid[j]))
        n = max(1, _ceil(lg.duration_h / dt))
        km = float(lg.km)
        if j + n > J:
            continue
        ns_arr[j] = n
        ekwh[j] = float(lg.energy_kwh)
        hit = memo.get(id(lg))
        if hit is None or hit[0] is not lg:
            hit = (lg, lg.level_map(delta, qmin, Q))
            memo[id(lg)] = hit
        qm[j] = hit[1]
        crate[j] = abs(lg.energy_kwh) / (pack * lg.duration_h) if lg.duration_h > 0 else 0.0
    return ns_arr, qm, crate, km, ekwh


def pd_isna(x: Any) -> bool:
    try:
        return bool(x is None or (isinstance(x, float) and math.isnan(x)))
    except Exception:  # pragma: no cover
        return False
