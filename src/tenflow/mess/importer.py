"""Importer for the Co-OPT MESS prototype workbooks (mess.md §2.4–§2.6).

:func:`import_xlsx` reads the ten ``.xlsx`` files of the prototype (one sheet ``Sheet1`` each), adds the
facts the prototype hard-coded and the product decisions of §2.4, calibrates ``crr`` per truck type
(§3.1) and returns a validated :class:`~tenflow.mess.case.MessCase`. ``import_xlsx(dir, "large").save(p)``
reproduces the built-in case ``mess-large`` byte for byte (likewise ``small``).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from tenflow.errors import CaseError, Issue, IssueCollector
from tenflow.mess import tables as T
from tenflow.mess.case import MessCase, build_case, format_hhmm, format_km, load_mess_case

FILES: dict[str, dict[str, str]] = {
    "small": {
        "distance": "Distance matrix between the nodes_1.xlsx",
        "terrain": "Road Terrain information.xlsx",
        "demand": "Customer demand data with time window in KWH_1.xlsx",
        "excavators": "Excavator details_1.xlsx",
        "traffic": "Traffic Data.xlsx",
        "vehicles": "Vehicle datset.xlsx",
    },
    "large": {
        "distance": "Distance matrix between the nodes_LARGE_SCALE.xlsx",
        "terrain": "Road Terrain information_large scale.xlsx",
        "demand": "Customer demand data with time window in KWH_Large_scale.xlsx",
        "excavators": "Excavator details_LargeScale.xlsx",
        "traffic": "Traffic Data.xlsx",
        "vehicles": "Vehicle datset.xlsx",
    },
}

#: facts the prototype hard-coded (§2.4)
ROLES: dict[str, dict[str, list[int]]] = {
    "small": {"depot": [0], "charger": [1, 3], "site": [2, 4, 5, 6]},
    "large": {"depot": [0], "charger": [1, 3, 7, 10, 13], "site": [2, 4, 5, 6, 8, 9, 11, 12, 14, 15]},
}
CHARGER_BUS: dict[str, dict[int, str]] = {
    "small": {1: "6", 3: "10"},
    "large": {1: "6", 3: "6", 7: "10", 10: "10", 13: "11"},
}
CHARGER_KW = 500.0
SERVICE_MIN = 30.0
S_DEP = 0.90
RESERVE = 0.20
EXC_CHARGE_KW, EXC_TRIGGER, EXC_TARGET = 170.0, 0.20, 0.90
IDLE_KW = 2.0
TOLL, MAINTENANCE, NOMINAL_PRICE = 0.20, 0.21, 0.20
SEGMENTS = [{"name": "Morning Peak", "start": 7.0, "end": 12.0}]
DEFAULT_SEGMENT = "Evening Peak"
# product decisions (§2.4)
HORIZON = (5.0, 24.0)
WORK = (7.0, 18.0)
CHARGER_EFFICIENCY = 0.95

#: truck-model defaults used for the crr calibration (§3.1)
P_AUX_KW, CDA_M2, ETA_DRIVE, RHO_AIR, G = 3.0, 6.0, 0.90, 1.2, 9.81


def norm_header(h: Any) -> str:
    """Header matching of §2.4: strip, collapse white space (incl. newlines), case-fold."""
    return " ".join(str(h).split()).casefold() if h is not None else ""


def calibrate_crr(e_kwh_per_km: float, v_kmh: float, mass_kg: float, *, p_aux_kw: float = P_AUX_KW,
                  eta_drive: float = ETA_DRIVE, cda_m2: float = CDA_M2, rho_air: float = RHO_AIR,
                  g: float = G) -> float:
    """c_rr such that steady flat driving at ``v_kmh`` consumes ``e_kwh_per_km`` (mess.md §3.1).

    c_rr = ((e − P_aux/v)·η_drive·3600 − ½ρC_dA(v/3.6)²)/(m g).
    """
    drag = 0.5 * rho_air * cda_m2 * (v_kmh / 3.6) ** 2
    return ((e_kwh_per_km - p_aux_kw / v_kmh) * eta_drive * 3600.0 - drag) / (mass_kg * g)


class _Sheet:
    """One workbook: header map and data rows."""

    def __init__(self, folder: Path, fname: str) -> None:
        import openpyxl

        self.fname = fname
        path = folder / fname
        if not path.is_file():
            raise CaseError(f"workbook is missing in {folder}", file=fname)
        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
        except Exception as exc:  # noqa: BLE001 - any openpyxl failure is a bad input file
            raise CaseError(f"cannot be read as .xlsx: {exc}", file=fname) from None
        if "Sheet1" not in wb.sheetnames:
            raise CaseError(f"sheet 'Sheet1' is missing (sheets: {', '.join(wb.sheetnames)})", file=fname,
                            field="Sheet1")
        rows = [list(r) for r in wb["Sheet1"].iter_rows(values_only=True)]
        wb.close()
        rows = [r for r in rows if any(c is not None and str(c).strip() != "" for c in r)]
        if not rows:
            raise CaseError("sheet 'Sheet1' is empty", file=fname)
        self.header_raw = rows[0]
        self.header = [norm_header(h) for h in rows[0]]
        self.rows = rows[1:]

    def col(self, name: str) -> int:
        key = norm_header(name)
        for i, h in enumerate(self.header):
            if h == key:
                return i
        shown = ", ".join(repr(str(h)) for h in self.header_raw if h is not None)
        raise CaseError(f"column '{name}' is missing (header: {shown})", file=self.fname, field=name)

    def number(self, r: int, c: int, name: str) -> float:
        row = self.rows[r]
        v = row[c] if c < len(row) else None
        try:
            x = float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise CaseError(f"{name} = {v!r} is not a number", file=self.fname, row=r + 1, field=name) from None
        if not math.isfinite(x):
            raise CaseError(f"{name} = {v!r} is not finite", file=self.fname, row=r + 1, field=name)
        return x

    def integer(self, r: int, c: int, name: str) -> int:
        x = self.number(r, c, name)
        if x != int(x):
            raise CaseError(f"{name} = {x:g} is not an integer", file=self.fname, row=r + 1, field=name)
        return int(x)

    def text(self, r: int, c: int) -> str:
        row = self.rows[r]
        v = row[c] if c < len(row) else None
        return "" if v is None else " ".join(str(v).split())


def _hours(sh: _Sheet, r: int, c: int, name: str) -> str:
    """A time-of-day cell in hours (e.g. 7, 19) → "HH:MM"."""
    x = sh.number(r, c, name)
    if not 0 <= x <= 24 or abs(x * 60 - round(x * 60)) > 1e-6:
        raise CaseError(f"{name} = {x:g} is not an hour of the day on whole minutes", file=sh.fname, row=r + 1,
                        field=name)
    return format_hhmm(x)


def import_xlsx(folder: str | Path, scale: str = "small") -> MessCase:
    """Import the prototype workbooks of ``folder`` at ``scale`` ``"small"`` or ``"large"`` (mess.md §2.4).

    Returns
    -------
    MessCase
        Validated, named ``mess-<scale>``; ``warnings`` hold W-GRADE-MISSING, W-ASYM, W-GRADE-LOOP.

    Raises
    ------
    CaseError
        A workbook, the sheet ``Sheet1`` or a column is missing, or a cell is malformed (naming file, row and
        column), or the result fails validation.
    """
    if scale not in FILES:
        raise CaseError(f"scale = '{scale}' (must be small or large)", field="scale")
    src = Path(folder)
    if not src.is_dir():
        raise CaseError(f"'{folder}' is not a folder", file=str(folder))
    files = FILES[scale]
    warnings: list[Issue] = []

    # --- distance matrix -> nodes, arcs ----------------------------------------------------
    dm = _Sheet(src, files["distance"])
    if dm.header[0] != "node":
        raise CaseError(f"first header cell is {dm.header_raw[0]!r} (expected 'Node')", file=dm.fname, field="Node")
    labels = [" ".join(str(h).split()) for h in dm.header_raw[1:] if h is not None and str(h).strip() != ""]
    n = len(labels)
    if len(dm.rows) != n:
        raise CaseError(f"{len(dm.rows)} data rows but {n} node labels in the header", file=dm.fname)
    roles = ROLES[scale]
    role_of = {i: r for r, lst in roles.items() for i in lst}
    missing = [i for i in role_of if i >= n]
    if missing:
        raise CaseError(f"the prototype's {scale} layout needs nodes {missing}, the matrix has {n}", file=dm.fname)
    nodes = pd.DataFrame({
        "id": list(range(n)),
        "name": labels,
        "role": [role_of.get(i, "junction") for i in range(n)],
        "x": [math.nan] * n,
        "y": [math.nan] * n,
    })
    arcs_rec: list[dict[str, Any]] = []
    for r in range(n):
        rid = dm.integer(r, 0, "Node")
        if rid != r:
            raise CaseError(f"row {r + 1} is labelled node {rid} (rows must be nodes 0..{n - 1} in order)",
                            file=dm.fname, row=r + 1, field="Node")
        for c in range(n):
            d = dm.number(r, c + 1, labels[c])
            if r == c or d == -1:
                continue
            if d <= 0:
                raise CaseError(f"{r}→{c}: length {d:g} km (must be > 0, or -1 for no road)", file=dm.fname,
                                row=r + 1, field=labels[c], code="E-ARC-LENGTH")
            arcs_rec.append({"from": r, "to": c, "length_km": float(d)})

    # --- terrain ---------------------------------------------------------------------------
    te = _Sheet(src, files["terrain"])
    cf, ct, cg = te.col("Node From"), te.col("Node To"), te.col("Gradient (%)")
    grade: dict[tuple[int, int], float] = {}
    for r in range(len(te.rows)):
        grade[(te.integer(r, cf, "Node From"), te.integer(r, ct, "Node To"))] = te.number(r, cg, "Gradient (%)")
    missing_grade: list[str] = []
    for a in arcs_rec:
        key = (a["from"], a["to"])
        if key in grade:
            a["grade_pct"] = float(grade[key])
        elif (key[1], key[0]) in grade:
            a["grade_pct"] = -float(grade[(key[1], key[0])])
            missing_grade.append(f"{key[0]}→{key[1]} (−grade of {key[1]}→{key[0]})")
        else:
            a["grade_pct"] = 0.0
            missing_grade.append(f"{key[0]}→{key[1]} (grade 0)")
        d = a["length_km"]
        # the prototype's zone rule (§2.4)
        if d > 2:
            a["zone_km"] = f"1:2;2:{format_km((d - 2) / 2)};3:{format_km((d - 2) / 2)}"
        else:
            a["zone_km"] = f"1:{format_km(d)}"
        a["free_speed_kmh"] = math.inf
    if missing_grade:
        warnings.append(Issue("roads without terrain rows: " + "; ".join(missing_grade), files["terrain"], None,
                              None, "W-GRADE-MISSING"))
    arcs = pd.DataFrame(arcs_rec, columns=T.ARCS.columns).sort_values(["from", "to"], kind="stable")

    # --- traffic ---------------------------------------------------------------------------
    tr = _Sheet(src, files["traffic"])
    cz, cs, cx = tr.col("Zone ID"), tr.col("Time Segment"), tr.col("Traffic Intensity Index")
    sf = pd.DataFrame(
        [{"zone": tr.integer(r, cz, "Zone ID"), "segment": tr.text(r, cs),
          "factor": tr.number(r, cx, "Traffic Intensity Index")} for r in range(len(tr.rows))],
        columns=T.SPEED_FACTORS.columns,
    ).sort_values(["zone", "segment"], kind="stable")

    # --- sites -----------------------------------------------------------------------------
    de = _Sheet(src, files["demand"])
    cn, cc, cq, cp = de.col("Node"), de.col("Customers"), de.col("Requirement of KWH"), de.col("Present KWH")
    de.col("Present SOC")  # present but ignored (an Excel formula, §2.4)
    c0, c1 = de.col("StartTime"), de.col("EndTime")
    sites_rec = []
    for r in range(len(de.rows)):
        q = de.number(r, cq, "Requirement of KWH")
        if q <= 0:
            raise CaseError(f"Requirement of KWH = {q:g} (must be > 0)", file=de.fname, row=r + 1,
                            field="Requirement of KWH")
        sites_rec.append({
            "node": de.integer(r, cn, "Node"), "name": de.text(r, cc), "mess_kwh": q,
            "soc_init": de.number(r, cp, "Present KWH") / q, "reserve_soc": RESERVE,
            "window_start": _hours(de, r, c0, "StartTime"), "window_end": _hours(de, r, c1, "EndTime"),
            "work_start": format_hhmm(WORK[0]), "work_end": format_hhmm(WORK[1]), "idle_kw": IDLE_KW, "end_soc_min": RESERVE,
        })
    sites = pd.DataFrame(sites_rec, columns=T.SITES.columns).sort_values("node", kind="stable")

    # --- excavators ------------------------------------------------------------------------
    ex = _Sheet(src, files["excavators"])
    en, enum_ = ex.col("Node"), ex.col("No of Excavator")
    ex.col("Customer")
    exc_rec = []
    for r in range(len(ex.rows)):
        site = ex.integer(r, en, "Node")
        k_n = ex.integer(r, enum_, "No of Excavator")
        for k in range(1, k_n + 1):
            ncap, ncon = f"Capacity of the excavator {k} (KWh)", f"Consumption of excavator {k} (KWh/h)"
            exc_rec.append({
                "site": site, "excavator": str(k), "battery_kwh": ex.number(r, ex.col(ncap), ncap),
                "consumption_kwh_per_h": ex.number(r, ex.col(ncon), ncon), "soc_init": 1.0,
                "charge_kw": EXC_CHARGE_KW, "trigger_soc": EXC_TRIGGER, "target_soc": EXC_TARGET,
            })
    excavators = pd.DataFrame(exc_rec, columns=T.EXCAVATORS.columns)

    # --- vehicles -> truck types -------------------------------------------------------------
    ve = _Sheet(src, files["vehicles"])
    names = ["Vehicle ID", "Vehicle Type", "Capacity (KWh)", "Average speed", "Consumption (KWh per KM)",
             "Driver wages (hourly)", "Mass (kg)", "A_K"]
    cols = {nm: ve.col(nm) for nm in names}
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in range(len(ve.rows)):
        vid = ve.integer(r, cols["Vehicle ID"], "Vehicle ID")
        label = ve.text(r, cols["Vehicle Type"])
        params = tuple(ve.number(r, cols[nm], nm) for nm in names[2:])
        g = groups.setdefault((label, *params), {"label": label, "params": params, "ids": []})
        g["ids"].append(vid)
    ordered = sorted(groups.values(), key=lambda g: min(g["ids"]))
    used_names: dict[str, int] = {}
    trucks_rec = []
    for g in ordered:
        cap, speed, cons, wage, mass, a_k = g["params"]
        base = g["label"][:1].upper() or "T"
        name = base if base not in used_names else f"{base}{format_km(cons * 10)}"
        if name in used_names:
            name = f"{name}-{len(used_names)}"
        used_names[name] = 1
        if not (speed > 0 and mass > 0 and cap > 0):
            raise CaseError(f"vehicles {g['ids']}: speed, mass and capacity must be > 0", file=ve.fname)
        trucks_rec.append({
            "type": name, "ids": ",".join(str(i) for i in sorted(g["ids"])), "count": len(g["ids"]),
            "mess_kwh": cap, "speed_kmh": speed, "mass_kg": mass, "wage_per_h": wage,
            "soc_min": 0.05, "soc_max": 1.0, "max_charge_kw": math.inf,
            "avail_start": format_hhmm(HORIZON[0]), "avail_end": format_hhmm(HORIZON[1]),
            "crr": calibrate_crr(cons, speed, mass), "cda_m2": CDA_M2, "eta_drive": ETA_DRIVE, "eta_regen": 0.60,
            "p_aux_kw": P_AUX_KW, "p_regen_max_kw": 250.0, "flat_kwh_per_km": cons, "aux_kwh_per_leg": a_k,
        })
    trucks = pd.DataFrame(trucks_rec, columns=T.TRUCKS.columns)

    chargers = pd.DataFrame(
        [{"node": c, "bus": CHARGER_BUS[scale][c], "power_kw": CHARGER_KW, "plugs": 0,
          "efficiency": CHARGER_EFFICIENCY, "fee_per_kwh": 0.0} for c in sorted(CHARGER_BUS[scale])],
        columns=T.CHARGERS.columns,
    )

    config = _config(scale)
    frames = {
        "nodes": nodes, "arcs": arcs.reset_index(drop=True), "speed_factors": sf.reset_index(drop=True),
        "chargers": chargers, "sites": sites.reset_index(drop=True), "excavators": excavators,
        "trucks": trucks, "prices": T.PRICES.empty_frame(),
    }
    col = IssueCollector()
    case = build_case(f"mess-{scale}", config, frames, col)
    col.raise_if_any()
    # normalise through the canonical files (identical dtypes to a loaded case) and validate
    with tempfile.TemporaryDirectory(prefix="tenflow-import-") as tmp:
        case.save(tmp)
        out = load_mess_case(Path(tmp))
    out.path = None
    out.warnings = warnings + out.warnings
    return out


def _config(scale: str) -> dict[str, Any]:
    """Default config of every section plus the hard-coded facts and product decisions (§2.4)."""
    config: dict[str, Any] = {}
    for sec in T.SECTIONS:
        parts = sec.name.split(".")
        tgt = config
        for p in parts[:-1]:
            tgt = tgt.setdefault(p, {})
        tgt.setdefault(parts[-1], {}).update({a.name: (None if a.required else a.default) for a in sec.attrs})
    config["case"].update(
        name=f"mess-{scale}",
        description=(f"Co-OPT MESS prototype data, {scale} scale, imported from the prototype workbooks "
                     f"(tenflow.mess.importer.import_xlsx; mess.md §2.4-§2.6)."),
    )
    config["time"].update(start=HORIZON[0], end=HORIZON[1], step_min=5, demand_step_min=15)
    config["soc"]["bucket"] = 0.01
    config["depot"].update(node="0", s_dep=S_DEP, charger_kw=CHARGER_KW, plugs=0, efficiency=CHARGER_EFFICIENCY,
                           price_flat=NOMINAL_PRICE)
    config["costs"].update(toll_per_km=TOLL, maintenance_per_km=MAINTENANCE, service_min=SERVICE_MIN)
    config["traffic"].update(model="fifo", segments=[dict(s) for s in SEGMENTS], default_segment=DEFAULT_SEGMENT,
                             default_zone=1)
    config["prices"]["prototype"]["da_series_cents"] = None
    return config
