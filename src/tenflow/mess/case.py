"""MESS case: data model, loading, saving (mess.md §2.1–§2.3).

A case is a folder with ``case.toml`` and the CSV tables declared in :mod:`tenflow.mess.tables`.
:func:`load_mess_case` reads, type-checks and validates (§8) a case folder or a built-in case name and
returns a :class:`MessCase`; :meth:`MessCase.save` writes the canonical form, so that
``load_mess_case(p) == case`` after ``case.save(p)`` (exact round trip).

Conventions of the loaded object:

* clock times (``sites.window_*``, ``sites.work_*``, ``trucks.avail_*``, ``config["time"]["start"/"end"]``,
  ``config["traffic"]["segments"][*]["start"/"end"]``) are float hours of the day (``"07:30"`` → 7.5);
* node ids are ``int`` when every id of ``nodes.csv`` is an integer, else ``str``; buses are ``str``;
* defaults are filled in (``trucks.avail_*`` = horizon, ``sites.end_soc_min`` = ``reserve_soc``,
  ``trucks.count`` = number of ids).
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import math
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w

from tenflow.case.schema import Component, read_table, read_toml, write_table
from tenflow.errors import CaseError, Issue, IssueCollector, TenflowError
from tenflow.mess import tables as T

CASE_TOML = "case.toml"
BUILTIN_DIR = Path(__file__).resolve().parents[1] / "cases" / "data"
BUILTIN_NAMES = ("mess-small", "mess-large", "mess-tiny", "mess-tiny-2")

_INT_RE = re.compile(r"[+-]?\d+")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")

NodeId = int | str


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------


def parse_hhmm(text: str) -> float:
    """``"HH:MM"`` (``"24:00"`` allowed) → float hours; raises ``ValueError`` on bad input."""
    m = _TIME_RE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"'{text}' is not a clock time HH:MM")
    h, mi = int(m.group(1)), int(m.group(2))
    if mi >= 60 or h > 24 or (h == 24 and mi != 0):
        raise ValueError(f"'{text}' is not a clock time between 00:00 and 24:00")
    return h + mi / 60.0


def format_hhmm(hours: float) -> str:
    """Float hours → ``"HH:MM"``; the value must be a whole number of minutes (±1e-6 min)."""
    minutes = round(float(hours) * 60.0)
    if abs(float(hours) * 60.0 - minutes) > 1e-6 or minutes < 0:
        raise TenflowError(f"time {hours!r} h is not a whole number of minutes; cannot write HH:MM")
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _node_value(text: Any, int_ids: bool) -> NodeId:
    s = str(text).strip()
    if int_ids and _INT_RE.fullmatch(s):
        return int(s)
    return s


def parse_ids(text: str) -> list[NodeId]:
    """``"1,2,9"`` → ``[1, 2, 9]`` (strings if any id is not an integer)."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if parts and all(_INT_RE.fullmatch(p) for p in parts):
        return [int(p) for p in parts]
    return list(parts)


def parse_zone_km(text: str, length_km: float, default_zone: int) -> list[tuple[int, float]]:
    """Parse ``zone_km`` (``"1:2;2:19;3:19"``) into ``[(zone, km), ...]`` in driving order.

    Empty text → ``[(default_zone, length_km)]``. Raises ``ValueError`` on a malformed entry.
    """
    s = str(text).strip() if text is not None else ""
    if s == "" or s.lower() == "nan":
        return [(int(default_zone), float(length_km))]
    out: list[tuple[int, float]] = []
    for part in s.split(";"):
        part = part.strip()
        if not part:
            continue
        z, sep, km = part.partition(":")
        if not sep:
            raise ValueError(f"zone piece '{part}' is not 'zone:km'")
        zz = z.strip()
        if not _INT_RE.fullmatch(zz):
            raise ValueError(f"zone '{zz}' is not an integer")
        d = float(km)
        if not math.isfinite(d) or d < 0:
            raise ValueError(f"zone piece '{part}' has an invalid length")
        out.append((int(zz), d))
    if not out:
        raise ValueError("no zone pieces")
    return out


def format_km(x: float) -> str:
    """Shortest text for a km value in ``zone_km`` (``19`` not ``19.0``)."""
    x = float(x)
    return str(int(x)) if x == int(x) else repr(x)


# ---------------------------------------------------------------------------------------------
# the case object
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class MessCase:
    """A validated MESS case (mess.md §2). Frames hold times as float hours (see module doc)."""

    name: str
    config: dict[str, Any]
    nodes: pd.DataFrame
    arcs: pd.DataFrame
    speed_factors: pd.DataFrame
    chargers: pd.DataFrame
    sites: pd.DataFrame
    excavators: pd.DataFrame
    trucks: pd.DataFrame
    prices: pd.DataFrame
    warnings: list[Issue] = field(default_factory=list)
    path: Path | None = None

    TABLES = ("nodes", "arcs", "speed_factors", "chargers", "sites", "excavators", "trucks", "prices")

    # -- comparison ------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MessCase):
            return NotImplemented
        if self.name != other.name or _canon(self.config) != _canon(other.config):
            return False
        for t in self.TABLES:
            a, b = getattr(self, t), getattr(other, t)
            if list(a.columns) != list(b.columns) or len(a) != len(b):
                return False
            if len(a) and not a.reset_index(drop=True).equals(b.reset_index(drop=True)):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]

    # -- convenience -----------------------------------------------------------------------
    @property
    def int_node_ids(self) -> bool:
        return bool(len(self.nodes)) and all(isinstance(v, (int, np.integer)) for v in self.nodes["id"])

    @property
    def depot(self) -> NodeId:
        return self.config["depot"]["node"]

    @property
    def horizon(self) -> tuple[float, float]:
        return float(self.config["time"]["start"]), float(self.config["time"]["end"])

    def node_ids(self) -> list[NodeId]:
        return list(self.nodes["id"])

    def arc(self, frm: NodeId, to: NodeId) -> pd.Series:
        """The row of arc ``frm→to``; :class:`CaseError` if there is no such arc."""
        m = (self.arcs["from"] == frm) & (self.arcs["to"] == to)
        if not m.any():
            raise CaseError(f"no arc {frm}→{to}", file="arcs.csv", code="E-NODE-UNKNOWN")
        return self.arcs[m].iloc[0]

    def zone_pieces(self, frm: NodeId, to: NodeId) -> list[tuple[int, float]]:
        a = self.arc(frm, to)
        return parse_zone_km(a["zone_km"], float(a["length_km"]), int(self.config["traffic"]["default_zone"]))

    def truck_types(self) -> pd.DataFrame:
        """One row per truck type (order of first appearance): ``type``, ``count``, ``ids`` (list), parameters."""
        params = [c for c in self.trucks.columns if c not in ("type", "ids", "count")]
        rows: list[dict[str, Any]] = []
        for typ, g in self.trucks.groupby("type", sort=False):
            ids: list[NodeId] = []
            for s in g["ids"]:
                ids.extend(parse_ids(s))
            rec: dict[str, Any] = {"type": typ, "count": len(ids), "ids": ids}
            first = g.iloc[0]
            for c in params:
                rec[c] = first[c]
            rows.append(rec)
        cols = ["type", "count", "ids", *params]
        return pd.DataFrame(rows, columns=cols)

    def truck_type(self, name: str) -> pd.Series:
        tt = self.truck_types()
        m = tt["type"] == name
        if not m.any():
            raise CaseError(f"unknown truck type '{name}' (types: {', '.join(map(str, tt['type']))})",
                            file="trucks.csv", field="type", code="E-FLEET")
        return tt[m].iloc[0]

    # -- saving ----------------------------------------------------------------------------
    def toml_dict(self) -> dict[str, Any]:
        """``case.toml`` content (all keys, defaults included; times as "HH:MM")."""
        return _config_to_toml(self.config, self.name)

    def save(self, path: str | Path) -> Path:
        """Write the case folder (``case.toml`` + non-empty CSV tables) in canonical form.

        A path ending in ``.json`` writes the single-document JSON form instead (:meth:`to_json`).
        """
        out = Path(path)
        if out.suffix.lower() == ".json":
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            return out
        out.mkdir(parents=True, exist_ok=True)
        text = tomli_w.dumps(self.toml_dict())
        (out / CASE_TOML).write_text(text, encoding="utf-8")
        for name in self.TABLES:
            comp = T.COMPONENT_BY_NAME[name]
            df = getattr(self, name)
            target = out / comp.filename
            if len(df) == 0 and not comp.required:
                if target.exists():
                    target.unlink()
                continue
            write_table(out, comp, _frame_for_writing(name, df))
        return out

    def to_json(self) -> dict[str, Any]:
        """The JSON form (mess.md §2.1): the ``case.toml`` keys plus ``tables.<name>`` = list of records.

        Record values are the CSV cells (times "HH:MM", ``inf`` as the string ``"inf"``); empty cells are
        omitted (defaults apply on loading).
        """
        doc = self.toml_dict()
        tabs: dict[str, list[dict[str, Any]]] = {}
        for name in self.TABLES:
            comp = T.COMPONENT_BY_NAME[name]
            df = getattr(self, name)
            if len(df) == 0 and not comp.required:
                continue
            frame = _frame_for_writing(name, df)
            recs: list[dict[str, Any]] = []
            for rec in frame[comp.columns].itertuples(index=False, name=None):
                r: dict[str, Any] = {}
                for v, a in zip(rec, comp.attrs, strict=True):
                    if v is None or (isinstance(v, float) and math.isnan(v)):
                        continue
                    if a.dtype == "float":
                        fv = float(v)
                        r[a.name] = fv if math.isfinite(fv) else repr(fv)
                    elif a.dtype == "int":
                        r[a.name] = int(v)
                    elif a.dtype == "bool":
                        r[a.name] = bool(v)
                    else:
                        r[a.name] = int(v) if isinstance(v, (int, np.integer)) else str(v)
                recs.append(r)
            tabs[name] = recs
        doc["tables"] = tabs
        return doc

    def copy(self) -> MessCase:
        return dataclasses.replace(
            self,
            config=copy.deepcopy(self.config),
            **{t: getattr(self, t).copy() for t in self.TABLES},
            warnings=list(self.warnings),
        )


def _canon(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _canon(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_canon(v) for v in x]
    return x


def _frame_for_writing(name: str, df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in T.TIME_COLUMNS.get(name, ()):
        out[c] = [format_hhmm(v) for v in out[c]]
    if name == "trucks":
        out["ids"] = [",".join(str(i) for i in parse_ids(s)) for s in out["ids"]]
    return out


def _config_to_toml(config: dict[str, Any], name: str) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for sec in T.SECTIONS:
        parts = sec.name.split(".")
        src: Any = config
        for p in parts:
            src = src.get(p, {}) if isinstance(src, dict) else {}
        values = {a.name: src.get(a.name) for a in sec.attrs}
        dumped = sec.dump(values)
        if sec.name == "case":
            dumped["name"] = name
        if sec.name == "time":
            dumped["start"] = format_hhmm(dumped["start"])
            dumped["end"] = format_hhmm(dumped["end"])
        if sec.name == "depot" and isinstance(src.get("node"), (int, np.integer)):
            dumped["node"] = int(src["node"])
        if sec.name == "traffic":
            segs = src.get("segments") or []
            dumped["segments"] = [
                {"name": s["name"], "start": format_hhmm(s["start"]), "end": format_hhmm(s["end"])} for s in segs
            ]
        if sec.name == "prices.prototype" and src.get("da_series_cents") is not None:
            dumped["da_series_cents"] = [float(v) for v in src["da_series_cents"]]
        tgt = doc
        for p in parts[:-1]:
            tgt = tgt.setdefault(p, {})
        tgt[parts[-1]] = dumped
    return doc


# ---------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------


def resolve_case_path(name_or_path: str | Path) -> Path:
    """A built-in case name → its package folder; anything else → a path (must exist)."""
    p = Path(name_or_path)
    if isinstance(name_or_path, str) and "/" not in name_or_path and "\\" not in name_or_path:
        builtin = BUILTIN_DIR / name_or_path
        if (builtin / CASE_TOML).is_file() and not (p / CASE_TOML).is_file():
            return builtin
    if p.is_file() and p.suffix.lower() == ".json":
        return p
    if p.is_file() and p.name == CASE_TOML:
        p = p.parent
    if not (p / CASE_TOML).is_file():
        avail = ", ".join(sorted(d.name for d in BUILTIN_DIR.iterdir() if (d / CASE_TOML).is_file())) \
            if BUILTIN_DIR.is_dir() else ""
        raise CaseError(
            f"no MESS case at '{name_or_path}' (no {CASE_TOML}; built-in cases: {avail})", file=str(name_or_path)
        )
    return p


def _parse_config(raw: dict[str, Any], col: IssueCollector) -> dict[str, Any]:
    file = CASE_TOML
    known_top = {s.name.split(".")[0] for s in T.SECTIONS}
    for key in raw:
        if key not in known_top:
            col.add(f"unknown section or key '{key}' (allowed: {', '.join(sorted(known_top))})",
                    file=file, field=key, code="E-SCHEMA")
    config: dict[str, Any] = {}
    for sec in T.SECTIONS:
        parts = sec.name.split(".")
        data: Any = raw
        for p in parts:
            data = data.get(p, {}) if isinstance(data, dict) else None
        if not isinstance(data, dict):
            col.add(f"[{sec.name}] must be a table", file=file, field=sec.name, code="E-SCHEMA")
            data = {}
        data = dict(data)
        # nested sub-tables and list keys are handled separately
        subs = {s.name.split(".")[-1] for s in T.SECTIONS if s.name.startswith(sec.name + ".")}
        extra: dict[str, Any] = {}
        for k in list(data):
            if k in subs:
                data.pop(k)
            elif k in T.LIST_KEYS.get(sec.name, ()):
                extra[k] = data.pop(k)
        if sec.name == "depot" and isinstance(data.get("node"), int) and not isinstance(data.get("node"), bool):
            data["node"] = str(data["node"])
        values = sec.parse(data, file=file, issues=col)
        values.update(_parse_list_keys(sec.name, extra, col))
        tgt = config
        for p in parts[:-1]:
            tgt = tgt.setdefault(p, {})
        tgt.setdefault(parts[-1], {}).update(values)
    # times
    t = config["time"]
    for k in ("start", "end"):
        try:
            t[k] = parse_hhmm(t[k])
        except (ValueError, AttributeError) as exc:
            col.add(str(exc), file=file, field=f"time.{k}", code="E-GRID")
            t[k] = 0.0 if k == "start" else 24.0
    return config


def _parse_list_keys(section: str, extra: dict[str, Any], col: IssueCollector) -> dict[str, Any]:
    file = CASE_TOML
    out: dict[str, Any] = {}
    if section == "traffic":
        segs = extra.get("segments", [])
        parsed: list[dict[str, Any]] = []
        if not isinstance(segs, list):
            col.add("traffic.segments must be a list of {name, start, end}", file=file,
                    field="traffic.segments", code="E-SCHEMA")
            segs = []
        for i, s in enumerate(segs, start=1):
            key = f"traffic.segments[{i}]"
            if not isinstance(s, dict) or set(s) != {"name", "start", "end"}:
                col.add("must be a table with exactly the keys name, start, end", file=file, field=key,
                        code="E-SCHEMA")
                continue
            try:
                parsed.append({"name": str(s["name"]), "start": parse_hhmm(str(s["start"])),
                               "end": parse_hhmm(str(s["end"]))})
            except ValueError as exc:
                col.add(str(exc), file=file, field=key, code="E-SCHEMA")
        out["segments"] = parsed
    if section == "prices.prototype":
        series = extra.get("da_series_cents")
        if series is not None:
            ok = isinstance(series, list) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in series
            )
            if not ok or len(series) != 24:
                col.add("da_series_cents must be a list of 24 numbers", file=file,
                        field="prices.prototype.da_series_cents", code="E-PRICE")
                series = None
            else:
                series = [float(v) for v in series]
        out["da_series_cents"] = series
    return out


def _codify(issues: list[Issue], start: int) -> None:
    """Give schema-level issues (added by ``read_table``/``Section.parse``) a code."""
    for i in range(start, len(issues)):
        it = issues[i]
        if it.code:
            continue
        code = "E-SCHEMA"
        if "must be" in it.reason and ("must be >" in it.reason or "must be <" in it.reason):
            code = "E-PARAM"
        issues[i] = dataclasses.replace(it, code=code)


def _read_tables(folder: Path, col: IssueCollector) -> dict[str, pd.DataFrame]:
    frames: dict[str, pd.DataFrame] = {}
    for comp in T.COMPONENTS:
        n0 = len(col.issues)
        frames[comp.name] = read_table(folder, comp, col)
        _codify(col.issues, n0)
    return frames


def _convert_times(name: str, df: pd.DataFrame, comp: Component, col: IssueCollector,
                   defaults: dict[str, float]) -> None:
    for c in T.TIME_COLUMNS.get(name, ()):
        vals: list[float] = []
        for r, v in enumerate(df[c], start=1):
            s = "" if v is None else str(v).strip()
            if s == "" and c in defaults:
                vals.append(defaults[c])
                continue
            try:
                vals.append(parse_hhmm(s))
            except ValueError as exc:
                col.add(str(exc), file=comp.filename, row=r, field=c, code="E-WINDOW")
                vals.append(math.nan)
        df[c] = np.asarray(vals, dtype=float)


def build_case(name: str, config: dict[str, Any], frames: dict[str, pd.DataFrame],
               col: IssueCollector) -> MessCase:
    """Normalise raw frames (times, node ids, defaults) into a :class:`MessCase` (no validation)."""
    nodes = frames["nodes"]
    int_ids = bool(len(nodes)) and all(_INT_RE.fullmatch(str(v).strip()) for v in nodes["id"])

    def conv(df: pd.DataFrame, cols: tuple[str, ...]) -> None:
        for c in cols:
            vals = [_node_value(v, int_ids) for v in df[c]]
            df[c] = pd.Series(vals, dtype="int64" if vals and all(isinstance(v, int) for v in vals) else object,
                              index=df.index)

    conv(nodes, ("id",))
    conv(frames["arcs"], ("from", "to"))
    conv(frames["chargers"], ("node",))
    conv(frames["sites"], ("node",))
    conv(frames["excavators"], ("site",))
    dep = config["depot"].get("node")
    if dep is not None:
        config["depot"]["node"] = _node_value(dep, int_ids)
    h0, h1 = config["time"]["start"], config["time"]["end"]
    _convert_times("sites", frames["sites"], T.SITES, col, {})
    _convert_times("trucks", frames["trucks"], T.TRUCKS, col, {"avail_start": h0, "avail_end": h1})
    sites = frames["sites"]
    if len(sites):
        esm = sites["end_soc_min"].astype(float)
        sites["end_soc_min"] = esm.where(esm.notna(), sites["reserve_soc"].astype(float))
    trucks = frames["trucks"]
    if len(trucks):
        ids_col: list[str] = []
        counts: list[int] = []
        for r, (typ, ids, cnt) in enumerate(zip(trucks["type"], trucks["ids"], trucks["count"], strict=True),
                                            start=1):
            lst = parse_ids(ids)
            if lst:
                if int(cnt) not in (0, len(lst)):
                    col.add(f"type {typ}: count = {cnt} but {len(lst)} ids given", file="trucks.csv", row=r,
                            field="count", code="E-FLEET")
            else:
                lst = [f"{typ}-{i}" for i in range(1, int(cnt) + 1)]
            if not lst:
                col.add(f"type {typ}: no trucks (give ids or count >= 1)", file="trucks.csv", row=r,
                        field="ids", code="E-FLEET")
            ids_col.append(",".join(str(i) for i in lst))
            counts.append(len(lst))
        trucks["ids"] = ids_col
        trucks["count"] = np.asarray(counts, dtype="int64")
    return MessCase(name=name, config=config, **frames)


def load_mess_case(name_or_path: str | Path, *, validate: bool = True) -> MessCase:
    """Load a MESS case folder or built-in case (mess.md §2); validate it (§8) unless told not to.

    Parameters
    ----------
    name_or_path
        ``"mess-small"``, ``"mess-large"``, ``"mess-tiny"``, ``"mess-tiny-2"`` or a folder with ``case.toml``.
    validate
        Run the §8 checks; all problems are collected and raised as one :class:`CaseError`.

    Returns
    -------
    MessCase
        With ``warnings`` (W-ASYM, W-GRADE-LOOP, …) filled in.
    """
    folder = resolve_case_path(name_or_path)
    if folder.is_file():  # JSON form
        with tempfile.TemporaryDirectory(prefix="tenflow-json-") as tmp:
            _json_to_folder(folder, Path(tmp))
            case = load_mess_case(Path(tmp), validate=validate)
        case.path = folder
        return case
    col = IssueCollector()
    try:
        raw = read_toml(folder / CASE_TOML)
    except CaseError as exc:
        raise CaseError([dataclasses.replace(i, code=i.code or "E-SCHEMA") for i in exc.issues]) from None
    n0 = len(col.issues)
    config = _parse_config(raw, col)
    _codify(col.issues, n0)
    frames = _read_tables(folder, col)
    name = config["case"].get("name") or folder.name
    case = build_case(str(name), config, frames, col)
    case.path = folder
    if validate:
        from tenflow.mess.validate import validate_case

        validate_case(case, col)
        case.warnings = list(col.warnings)
    col.raise_if_any()
    return case


def _json_to_folder(path: Path, out: Path) -> None:
    """Write the JSON form as a case folder (``case.toml`` + CSV tables) for the common loader."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CaseError(f"cannot be read as JSON: {exc}", file=path.name, code="E-SCHEMA") from None
    if not isinstance(doc, dict):
        raise CaseError("the JSON document must be an object", file=path.name, code="E-SCHEMA")
    tabs = doc.pop("tables", {})
    if not isinstance(tabs, dict):
        raise CaseError("'tables' must be an object of record lists", file=path.name, field="tables",
                        code="E-SCHEMA")
    try:
        (out / CASE_TOML).write_text(tomli_w.dumps(doc), encoding="utf-8")
    except (TypeError, ValueError) as exc:
        raise CaseError(f"invalid settings: {exc}", file=path.name, code="E-SCHEMA") from None
    for name, recs in tabs.items():
        comp = T.COMPONENT_BY_NAME.get(name)
        if comp is None:
            raise CaseError(f"unknown table '{name}' (allowed: {', '.join(T.COMPONENT_BY_NAME)})", file=path.name,
                            field=f"tables.{name}", code="E-SCHEMA")
        if not isinstance(recs, list) or not all(isinstance(r, dict) for r in recs):
            raise CaseError("must be a list of records", file=path.name, field=f"tables.{name}", code="E-SCHEMA")
        cols = list(comp.columns) + sorted({k for r in recs for k in r if k not in comp.columns})
        with (out / comp.filename).open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(cols)
            for r in recs:
                w.writerow(["" if r.get(c) is None else (str(r[c]).lower() if isinstance(r[c], bool) else r[c])
                            for c in cols])


def convert(src: str | Path, dst: str | Path) -> Path:
    """Convert a case between the folder form and the JSON form (``dst`` ending in ``.json`` → JSON)."""
    return load_mess_case(src).save(dst)
