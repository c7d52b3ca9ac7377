"""Hetero-functional nets of an OMTEPF case: engineering-system net (places, transitions, M⁺, M⁻) and the
per-EV operand (state-of-charge) nets with the input synchronisation matrix D⁻.

Implements omtepf.md §1.3–1.5 (orderings), §3.2 (incidence matrices, eqs. 30–44), §3.4 (operand nets and
D⁻, Table V) and §7 (eligibility and time-window pruning).

Orderings (§1.3, §1.4):

* places ``S = [(I^r, b) for b in B] + [(I^i, b) for b in B] + [(v, b) for v in EVs for b in B]``;
* transitions ``[E_E | E_T | E_C]``; ``E_E`` = for part r then i: generators, variable generators, loads,
  lines; ``E_T`` EV-major: parking lots (parking.csv order) then road arcs (arc 2i-1 = road i A→B, 2i = B→A);
  ``E_C`` EV-major: chargers (chargers.csv order) then the arcs of electrified roads (inductive / wire).

Forms: ``full`` gives every EV every capability (paper-faithful, symmetrica-lite: 884 places, 4040
transitions = 136 + 3104 + 800, Table IV); ``pruned`` keeps, per EV, only the capabilities it is eligible for
(parking and chargers by ``eligible``; all roads and electrified arcs) and lists the EV firing variables that
survive the itinerary time windows in :attr:`Nets.firings` (symmetrica-lite: 2944 capabilities per step,
45,856 firing variables).

All matrices are assembled from one-EV templates with :func:`scipy.sparse.kron` and block stacking; there
is no Python loop over EVs, places or transitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse

from tenflow.case import derived
from tenflow.errors import TenflowError

if TYPE_CHECKING:
    from tenflow.case.model import Case

Form = Literal["full", "pruned"]

#: operand-net transitions per EV (§1.5)
OPERAND_ACTIONS = ("charge", "hold", "discharge")

_EV_COLUMNS = ["block", "kind", "part", "ev", "component", "origin", "dest", "bus", "duration", "rate",
               "current_re", "current_im", "cost", "revenue", "arc", "cap"]


@dataclass
class Resource:
    """A shared capacity (omtepf.md §3.6 items 1–3): ``S @ U⁻[k] <= capacity`` with ``S`` summing firings.

    Attributes
    ----------
    rows
        One row per resource (arc, lot or charger), naming it.
    S
        Selector/summing matrix (resources × transitions), CSR, entries 1.
    capacity
        Capacity per resource (``inf`` = unlimited, e.g. ``plugs = 0``).
    """

    rows: pd.DataFrame
    S: sparse.csr_matrix
    capacity: np.ndarray


@dataclass
class Nets:
    """The nets built from a case (see module docstring for orderings).

    Attributes
    ----------
    form
        ``"full"`` or ``"pruned"``.
    places
        One row per ESN place: ``operand`` ('Ir'|'Ii'|'ev'), ``ev`` (id or None), ``buffer``.
    transitions
        One row per ESN transition: ``block`` ('E'|'T'|'C'), ``kind`` (gen|pv|load|line|park|road|home|com|v2g|
        inductive|wire), ``part`` ('r'|'i'|None), ``ev``, ``component`` (id of the generator/line/lot/road/charger),
        ``origin``, ``dest`` (buffers; lines: from/to bus), ``bus`` (bus of the electrical effect or None),
        ``duration`` (steps), ``rate`` (net SoC change per firing: charge +, depletion −), ``current_re``,
        ``current_im`` (drawn per firing; injection negative; NaN for electrical transitions), ``cost``
        (transport cost per firing), ``revenue`` (charging revenue per firing; v2g: (price − c_C) × units),
        ``arc`` (row in :attr:`arcs` for road/electrified-arc transitions, else −1), ``cap`` (index of the
        capability in the one-EV template, −1 for electrical).
    M_plus, M_minus
        ESN incidence matrices (places × transitions), CSR.
    D_minus
        Input synchronisation (3·n_ev × transitions); rows :attr:`operand_transitions`.
    ML_plus, ML_minus
        Operand-net incidence (n_ev × 3·n_ev): ``I ⊗ [1 1 0]`` and ``I ⊗ [0 1 1]`` (eq. 46).
    operand_places, operand_transitions
        Row names of the operand nets: ``ev``; ``ev``, ``action``.
    arcs
        Directed road arcs (:func:`tenflow.case.derived.arcs`).
    ev_steps
        Itinerary expanded per (EV, step) (:func:`tenflow.case.derived.ev_steps`).
    resources
        Shared capacities as :class:`Resource`: ``"arcs"`` (road + electrified traversals of an arc ≤ road
        capacity, §3.6 item 1), ``"lots"`` (parking at the lot + charging at any charger of the lot's buffer ≤
        lot capacity, item 2), ``"chargers"`` (firings of the charger ≤ plugs, item 3).
    idle
        Pruned form only: one row per free idle/queue variable ``Q_B,(v,b)[k+1]`` (EV ``v`` idle at buffer
        ``b`` during step ``k``): columns ``ev``, ``ev_index``, ``k``, ``buffer``, ``place`` (row of
        :attr:`places`). Idling is allowed in travel windows and uncovered steps, never during a stay (§3.5, §7;
        symmetrica-lite: 15 × 26 × 32 = 12,480).
    firings
        Pruned form only: one row per EV firing variable, columns ``ev`` (categorical EV id), ``ev_index``
        (row in evs.csv), ``k``, ``transition`` (row of :attr:`transitions`), sorted by (ev, k, transition).
    """

    form: str
    places: pd.DataFrame
    transitions: pd.DataFrame
    M_plus: sparse.csr_matrix
    M_minus: sparse.csr_matrix
    D_minus: sparse.csr_matrix
    ML_plus: sparse.csr_matrix
    ML_minus: sparse.csr_matrix
    operand_places: pd.DataFrame
    operand_transitions: pd.DataFrame
    arcs: pd.DataFrame
    ev_steps: pd.DataFrame
    firings: pd.DataFrame | None = None
    resources: dict[str, Resource] = field(default_factory=dict)
    idle: pd.DataFrame | None = None
    K: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def M(self) -> sparse.csr_matrix:
        """``M = M⁺ − M⁻``."""
        return (self.M_plus - self.M_minus).tocsr()

    def summary(self) -> dict[str, int]:
        """Counts: places, transitions by block and kind, operand nets, firings."""
        t = self.transitions
        blocks = t["block"].value_counts()
        out: dict[str, int] = {
            "places": len(self.places),
            "transitions": len(t),
            "electrical": int(blocks.get("E", 0)),
            "transport": int(blocks.get("T", 0)),
            "charging": int(blocks.get("C", 0)),
            "ev_capabilities_per_step": int(blocks.get("T", 0) + blocks.get("C", 0)),
            "operand_places": len(self.operand_places),
            "operand_transitions": len(self.operand_transitions),
            "nnz_M_plus": int(self.M_plus.nnz),
            "nnz_M_minus": int(self.M_minus.nnz),
            "nnz_D_minus": int(self.D_minus.nnz),
        }
        for kind, n in t["kind"].value_counts().sort_index().items():
            out[f"kind_{kind}"] = int(n)
        if self.firings is not None:
            out["firings"] = len(self.firings)
        if self.idle is not None:
            out["idle"] = len(self.idle)
        return out


# ---------------------------------------------------------------------------------------------- templates
def _electrical(case: Case, bpos: pd.Index) -> tuple[sparse.csr_matrix, sparse.csr_matrix, pd.DataFrame]:
    """One-part electrical block M1_EE^± (n_b × n_E1) and its transition table (§3.2 electrical block)."""
    g, pv, d, ln = case.generators, case.variable_generators, case.loads, case.lines
    kinds = np.concatenate([np.full(len(g), "gen"), np.full(len(pv), "pv"), np.full(len(d), "load"),
                            np.full(len(ln), "line")]).astype(object)
    comp = np.concatenate([g["id"], pv["id"], d["id"], ln["id"]]).astype(object)
    bus = np.concatenate([g["bus"], pv["bus"], d["bus"], np.full(len(ln), None)]).astype(object)
    n1 = len(kinds)
    # M+ : gen & pv at bus, line at `to`; M- : load at bus, line at `from`
    plus_rows = bpos.get_indexer(np.concatenate([g["bus"], pv["bus"], ln["to"]]).astype(object))
    plus_cols = np.r_[np.arange(len(g) + len(pv)), len(g) + len(pv) + len(d) + np.arange(len(ln))]
    minus_rows = bpos.get_indexer(np.concatenate([d["bus"], ln["from"]]).astype(object))
    minus_cols = len(g) + len(pv) + np.arange(len(d) + len(ln))
    nb = len(bpos)
    Mp = sparse.csr_matrix((np.ones(len(plus_rows)), (plus_rows, plus_cols)), shape=(nb, n1))
    Mm = sparse.csr_matrix((np.ones(len(minus_rows)), (minus_rows, minus_cols)), shape=(nb, n1))
    origin = np.concatenate([np.full(len(g) + len(pv) + len(d), None), ln["from"]]).astype(object)
    dest = np.concatenate([np.full(len(g) + len(pv) + len(d), None), ln["to"]]).astype(object)
    tab = pd.DataFrame({"kind": kinds, "component": comp, "origin": origin, "dest": dest, "bus": bus})
    return Mp, Mm, tab


def _ev_templates(case: Case, bpos: pd.Index, arc_tab: pd.DataFrame) -> dict[str, Any]:
    """One-EV templates of the transport and charging blocks (§3.2 EV blocks, §3.4 D1_T and D1_C)."""
    nb = len(bpos)
    pk, ch = case.parking, case.chargers
    na, np_, nc = len(arc_tab), len(pk), len(ch)
    elec = np.flatnonzero((arc_tab["charge_mode"] != "none").to_numpy())
    nw = len(elec)
    semantics_a = int(case.options["wireless_net_soc"]) == 0

    # ---- transport template: lots, then arcs
    pk_b = bpos.get_indexer(pk["buffer"])
    a_o = bpos.get_indexer(arc_tab["origin"])
    a_d = bpos.get_indexer(arc_tab["dest"])
    nT = np_ + na
    cols = np.arange(nT)
    TTm = sparse.csr_matrix((np.ones(nT), (np.r_[pk_b, a_o], cols)), shape=(nb, nT))
    TTp = sparse.csr_matrix((np.ones(nT), (np.r_[pk_b, a_d], cols)), shape=(nb, nT))
    dep = arc_tab["depletion"].to_numpy(dtype=float)
    DT = sparse.csr_matrix(
        (np.r_[np.ones(np_), dep], (np.r_[np.ones(np_, dtype=int), np.full(na, 2)], cols)), shape=(3, nT))
    T_tab = pd.DataFrame({
        "kind": np.r_[np.full(np_, "park"), np.full(na, "road")].astype(object),
        "component": np.r_[pk["id"], arc_tab["road"]].astype(object),
        "origin": np.r_[pk["buffer"], arc_tab["origin"]].astype(object),
        "dest": np.r_[pk["buffer"], arc_tab["dest"]].astype(object),
        "bus": np.full(nT, None, dtype=object),
        "duration": np.r_[np.ones(np_, dtype=np.int64), arc_tab["travel_steps"].to_numpy(dtype=np.int64)],
        "rate": np.r_[np.zeros(np_), -dep],
        "current_re": np.zeros(nT),
        "current_im": np.zeros(nT),
        "cost": np.r_[np.zeros(np_), arc_tab["cost"].to_numpy(dtype=float)],
        "revenue": np.zeros(nT),
        "arc": np.r_[np.full(np_, -1), np.arange(na)].astype(np.int64),
    })

    # ---- charging template: chargers, then electrified arcs
    ctype = ch["type"].to_numpy(dtype=object)
    v2g = ctype == "v2g"
    sign = np.where(v2g, -1.0, 1.0)  # v2g injects: drawn current = -current
    c_cur = sign * (ch["current_re"].to_numpy(dtype=float) + 1j * ch["current_im"].to_numpy(dtype=float))
    w = arc_tab.iloc[elec]
    w_cur = w["current_re"].to_numpy(dtype=float) + 1j * w["current_im"].to_numpy(dtype=float)
    cur = np.r_[c_cur, w_cur]
    nC = nc + nw
    ccols = np.arange(nC)
    c_b = bpos.get_indexer(ch["buffer"])
    w_o, w_d = a_o[elec], a_d[elec]
    TCm = sparse.csr_matrix((np.ones(nC), (np.r_[c_b, w_o], ccols)), shape=(nb, nC))
    TCp = sparse.csr_matrix((np.ones(nC), (np.r_[c_b, w_d], ccols)), shape=(nb, nC))
    cbus = np.r_[ch["buffer"].to_numpy(dtype=object), w["charge_bus"].to_numpy(dtype=object)]
    cbus_i = bpos.get_indexer(cbus)
    ECm = sparse.csr_matrix(
        (np.r_[cur.real, cur.imag], (np.r_[cbus_i, nb + cbus_i], np.r_[ccols, ccols])), shape=(2 * nb, nC))
    ECm.eliminate_zeros()
    rate = ch["rate"].to_numpy(dtype=float)
    w_rate = w["charge_rate"].to_numpy(dtype=float)
    w_dep = w["depletion"].to_numpy(dtype=float) if semantics_a else np.zeros(nw)
    # D1_C rows: 0 charge, 1 hold, 2 discharge (Table V; v2g -> discharge; electrified arcs semantics A/B)
    DC = sparse.csr_matrix(
        (np.r_[rate, w_rate, w_dep],
         (np.r_[np.where(v2g, 2, 0), np.zeros(nw, dtype=int), np.full(nw, 2)], np.r_[np.arange(nc), nc + np.arange(nw),
                                                                                    nc + np.arange(nw)])),
        shape=(3, nC))
    DC.eliminate_zeros()
    net_rate = np.r_[np.where(v2g, -rate, rate), w_rate - w_dep]
    kind_c = np.where(ctype == "commercial", "com", ctype).astype(object)
    C_tab = pd.DataFrame({
        "kind": np.r_[kind_c, w["charge_mode"].to_numpy(dtype=object)].astype(object),
        "component": np.r_[ch["id"], w["road"]].astype(object),
        "origin": np.r_[ch["buffer"], w["origin"]].astype(object),
        "dest": np.r_[ch["buffer"], w["dest"]].astype(object),
        "bus": cbus,
        "duration": np.r_[np.ones(nc, dtype=np.int64), w["travel_steps"].to_numpy(dtype=np.int64)],
        "rate": net_rate,
        "current_re": cur.real,
        "current_im": cur.imag,
        "cost": np.r_[np.zeros(nc), w["cost"].to_numpy(dtype=float)],
        # v2g: each discharged unit earns its price and its recharge earns no c_C (formulations.charging)
        "revenue": np.r_[rate * (ch["revenue_per_unit"].to_numpy(dtype=float)
                                 - np.where(kind_c == "v2g", float(case.costs["c_C"]), 0.0)),
                         w_rate * float(case.costs["c_C"])],
        "arc": np.r_[np.full(nc, -1), elec].astype(np.int64),
    })
    return {"TTm": TTm, "TTp": TTp, "DT": DT, "T_tab": T_tab, "TCm": TCm, "TCp": TCp, "ECm": ECm, "DC": DC,
            "C_tab": C_tab, "n_park": np_, "n_charger": nc}


def _replicate(tab: pd.DataFrame, ev_ids: np.ndarray, block: str, keep: np.ndarray) -> pd.DataFrame:
    """Tile a one-EV template over EVs (EV-major) and keep the ``keep`` mask (flattened n_ev × n1)."""
    n1, nev = len(tab), len(ev_ids)
    idx = np.tile(np.arange(n1), nev)[keep]
    out = tab.iloc[idx].reset_index(drop=True)
    out.insert(0, "block", block)
    out.insert(2, "part", None)
    out.insert(3, "ev", np.repeat(ev_ids, n1)[keep])
    out["cap"] = idx.astype(np.int64)
    return out


def build_nets(case: Case, form: Form = "full") -> Nets:
    """Build the hetero-functional nets of ``case`` (omtepf.md §1.3–1.5, §3.2–3.4, §7).

    Parameters
    ----------
    case
        A validated case.
    form
        ``"full"``: every EV has every capability (paper's Table IV counts). ``"pruned"``: per EV only
        eligible parking lots and chargers; adds :attr:`Nets.firings` (eligibility + itinerary windows).
    """
    if form not in ("full", "pruned"):
        raise TenflowError(f"unknown net form '{form}' (use 'full' or 'pruned')")
    bufs = case.buffers["id"].to_numpy(dtype=object)
    bpos = pd.Index(bufs)
    nb = len(bufs)
    ev_ids = case.evs["id"].to_numpy(dtype=object)
    nev = len(ev_ids)
    arc_tab = derived.arcs(case)

    # ---- places (§1.3)
    places = pd.DataFrame({
        "operand": np.r_[np.full(2 * nb, "Ir", dtype=object), np.full(nev * nb, "ev", dtype=object)],
        "ev": np.r_[np.full(2 * nb, None, dtype=object), np.repeat(ev_ids, nb)],
        "buffer": np.tile(bufs, 2 + nev),
    })
    places.loc[nb:2 * nb - 1, "operand"] = "Ii"

    # ---- electrical block (blkdiag real, imaginary)
    EEp1, EEm1, e_tab = _electrical(case, bpos)
    nE1 = len(e_tab)
    EEp = sparse.block_diag([EEp1, EEp1], format="csr")
    EEm = sparse.block_diag([EEm1, EEm1], format="csr")
    e_rows = pd.concat([e_tab, e_tab], ignore_index=True)
    e_rows.insert(0, "block", "E")
    e_rows.insert(2, "part", np.repeat(np.array(["r", "i"], dtype=object), nE1))
    e_rows.insert(3, "ev", None)
    e_rows["duration"] = np.int64(0)
    e_rows["rate"] = 0.0
    for c in ("current_re", "current_im", "cost", "revenue"):
        e_rows[c] = np.nan
    e_rows["arc"] = np.int64(-1)
    e_rows["cap"] = np.int64(-1)

    # ---- EV templates and pruning masks
    tpl = _ev_templates(case, bpos, arc_tab)
    nT1, nC1 = len(tpl["T_tab"]), len(tpl["C_tab"])
    if form == "full":
        keepT = np.ones(nev * nT1, dtype=bool)
        keepC = np.ones(nev * nC1, dtype=bool)
    else:
        park_el = derived.eligibility(case, case.parking).T  # nev x n_park
        chg_el = derived.eligibility(case, case.chargers).T  # nev x n_charger
        na = nT1 - tpl["n_park"]
        nw = nC1 - tpl["n_charger"]
        keepT = np.hstack([park_el, np.ones((nev, na), dtype=bool)]).ravel()
        keepC = np.hstack([chg_el, np.ones((nev, nw), dtype=bool)]).ravel()

    eye = sparse.identity(nev, format="csr")
    ones = sparse.csr_matrix(np.ones((1, nev)))
    TTm = sparse.kron(eye, tpl["TTm"], format="csc")[:, keepT]
    TTp = sparse.kron(eye, tpl["TTp"], format="csc")[:, keepT]
    TCm = sparse.kron(eye, tpl["TCm"], format="csc")[:, keepC]
    TCp = sparse.kron(eye, tpl["TCp"], format="csc")[:, keepC]
    ECm = sparse.kron(ones, tpl["ECm"], format="csc")[:, keepC]
    nT, nC = int(keepT.sum()), int(keepC.sum())
    zET = sparse.csr_matrix((2 * nb, nT))  # M_ET = 0 (plain driving draws no current, §3.2)
    zEC = sparse.csr_matrix((2 * nb, nC))
    zTE = sparse.csr_matrix((nev * nb, 2 * nE1))
    M_minus = sparse.bmat([[EEm, zET, ECm], [zTE, TTm, TCm]], format="csr")
    M_plus = sparse.bmat([[EEp, zET, zEC], [zTE, TTp, TCp]], format="csr")
    DT = sparse.kron(eye, tpl["DT"], format="csc")[:, keepT]
    DC = sparse.kron(eye, tpl["DC"], format="csc")[:, keepC]
    D_minus = sparse.hstack([sparse.csr_matrix((3 * nev, 2 * nE1)), DT, DC], format="csr")
    ML_plus = sparse.kron(eye, sparse.csr_matrix(np.array([[1.0, 1.0, 0.0]])), format="csr")
    ML_minus = sparse.kron(eye, sparse.csr_matrix(np.array([[0.0, 1.0, 1.0]])), format="csr")

    parts = [e_rows, _replicate(tpl["T_tab"], ev_ids, "T", keepT), _replicate(tpl["C_tab"], ev_ids, "C", keepC)]
    transitions = pd.DataFrame({c: np.concatenate([p[c].to_numpy() for p in parts]) for c in _EV_COLUMNS})
    for c in ("duration", "arc", "cap"):
        transitions[c] = transitions[c].astype(np.int64)
    for c in ("rate", "current_re", "current_im", "cost", "revenue"):
        transitions[c] = transitions[c].astype(float)

    steps = derived.ev_steps(case)
    nets = Nets(
        form=form, places=places, transitions=transitions, M_plus=M_plus, M_minus=M_minus, D_minus=D_minus,
        ML_plus=ML_plus, ML_minus=ML_minus,
        operand_places=pd.DataFrame({"ev": ev_ids}),
        operand_transitions=pd.DataFrame({"ev": np.repeat(ev_ids, 3),
                                          "action": np.tile(np.array(OPERAND_ACTIONS, dtype=object), nev)}),
        arcs=arc_tab, ev_steps=steps, K=case.K, meta={"case": case.name},
    )
    nets.resources = _resources(case, transitions, arc_tab)
    if form == "pruned":
        nets.firings = _firings(nets, case, bpos)
        nets.idle = _idle(nets, case)
    return nets


def _idle(nets: Nets, case: Case) -> pd.DataFrame:
    """Free idle/queue variables: (EV, step) not in a stay window × every buffer (§7)."""
    K, nb = case.K, len(case.buffers)
    st = nets.ev_steps
    free = np.flatnonzero((st["mode"] != derived.STAY).to_numpy())  # rows (ev-major, k inner)
    ev_i = np.repeat(free // K, nb)
    kk = np.repeat(free % K, nb)
    b = np.tile(np.arange(nb), len(free))
    return pd.DataFrame({
        "ev": pd.Categorical.from_codes(ev_i, categories=pd.Index(case.evs["id"].astype(str))),
        "ev_index": ev_i.astype(np.int64),
        "k": kk.astype(np.int64),
        "buffer": case.buffers["id"].to_numpy(dtype=object)[b],
        "place": (2 * nb + ev_i * nb + b).astype(np.int64),
    })


def _resources(case: Case, t: pd.DataFrame, arc_tab: pd.DataFrame) -> dict[str, Resource]:
    """Selector matrices of the shared capacities (§3.6 items 1–3), vectorised with index look-ups."""
    n = len(t)
    kind = t["kind"].to_numpy(dtype=object)

    def sel(res_idx: np.ndarray, n_res: int) -> sparse.csr_matrix:
        ok = res_idx >= 0
        cols = np.flatnonzero(ok)
        return sparse.csr_matrix((np.ones(len(cols)), (res_idx[ok], cols)), shape=(n_res, n))

    arc_idx = t["arc"].to_numpy(dtype=np.int64)
    arcs = Resource(arc_tab[["road", "direction", "origin", "dest"]].copy(), sel(arc_idx, len(arc_tab)),
                    arc_tab["capacity"].to_numpy(dtype=float))
    pk, ch = case.parking, case.chargers
    is_chg = np.isin(kind, ["home", "com", "v2g"])
    chg_idx = np.where(is_chg, pd.Index(ch["id"]).get_indexer(t["component"]), -1)
    plugs = ch["plugs"].to_numpy(dtype=float)
    chargers = Resource(ch[["id", "buffer", "type"]].copy(), sel(chg_idx, len(ch)), np.where(plugs > 0, plugs, np.inf))
    park_idx = np.where(kind == "park", pd.Index(pk["id"]).get_indexer(t["component"]), -1)
    S_park = sel(park_idx, len(pk))
    # charging at a charger counts against every lot at the charger's buffer (selector S_T of §3.6)
    lot_of_charger = (pk["buffer"].to_numpy(dtype=object)[:, None] == ch["buffer"].to_numpy(dtype=object)[None, :])
    S_lot = (S_park + sparse.csr_matrix(lot_of_charger.astype(float)) @ chargers.S).tocsr()
    lots = Resource(pk[["id", "buffer"]].copy(), S_lot, pk["capacity"].to_numpy(dtype=float))
    return {"arcs": arcs, "lots": lots, "chargers": chargers}


def _firings(nets: Nets, case: Case, bpos: pd.Index) -> pd.DataFrame:
    """EV firing variables surviving the itinerary windows (omtepf.md §3.5, §7), vectorised over (t, k).

    Per (EV, step): *free* → every eligible capability; *stay at b* → parking at b, and chargers at b if
    ``charge``; *travel to b* → every road and electrified arc, parking at b, chargers at b if ``charge``.
    """
    K = case.K
    t = nets.transitions
    ev_mask = (t["block"] != "E").to_numpy()
    tid = np.flatnonzero(ev_mask)
    te = t.iloc[tid]
    evpos = pd.Index(case.evs["id"]).get_indexer(te["ev"])
    kind = te["kind"].to_numpy(dtype=object)
    is_arc = np.isin(kind, ["road", "inductive", "wire"])
    is_park = kind == "park"
    is_chg = np.isin(kind, ["home", "com", "v2g"])
    loc = np.where(is_arc, -1, bpos.get_indexer(te["origin"])).astype(np.int32)
    st = nets.ev_steps
    nev = len(case.evs)
    mode = st["mode"].to_numpy().reshape(nev, K)
    sbuf = bpos.get_indexer(st["buffer"].where(st["buffer"].notna(), "\x00__none__")).astype(np.int32).reshape(nev, K)
    chg = st["charge"].to_numpy(dtype=bool).reshape(nev, K)
    # (K, n_t) layout: np.nonzero yields (k, t) order; a stable sort on the EV gives (ev, k, t)
    m = mode[evpos].T
    at = loc[None, :] == sbuf[evpos].T
    allowed = (m == derived.FREE) | (at & (is_park[None, :] | (is_chg[None, :] & chg[evpos].T))) | (
        (m == derived.TRAVEL) & is_arc[None, :])
    kk, ti = np.nonzero(allowed)
    del allowed
    order = np.argsort(evpos.astype(np.int32)[ti], kind="stable")
    ti = ti[order]
    kk = kk[order]
    ev_i = evpos[ti]
    return pd.DataFrame({
        "ev": pd.Categorical.from_codes(ev_i, categories=pd.Index(case.evs["id"].astype(str))),
        "ev_index": ev_i.astype(np.int64, copy=False),
        "k": kk.astype(np.int64, copy=False),
        "transition": tid[ti].astype(np.int64, copy=False),
    }, copy=False)
