"""The :class:`Case` data model of an OMTEPF case, and its folder IO (``case.toml`` + CSV tables).

A case folder holds ``case.toml`` (sections ``[meta]``, ``[options]``, ``[costs]``) and one CSV file per
component table declared in :mod:`tenflow.case.tables`. :func:`load_case` reads, types, fills defaults and
validates (:mod:`tenflow.case.validate`), collecting every problem into one :class:`tenflow.CaseError`;
:meth:`Case.save` writes the canonical form, so ``load_case(case.save(p)) == case`` exactly (omtepf.md §8.1).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w

from tenflow.case import tables as T
from tenflow.case.schema import Component, IssueCollector, read_table, read_toml, write_table
from tenflow.errors import CaseError

CASE_TOML = "case.toml"

_NP_DTYPE = {"int": "int64", "float": "float64", "str": "object", "bool": "bool"}


@dataclass(eq=False)
class Case:
    """A validated OMTEPF case (omtepf.md §8.1).

    Attributes
    ----------
    meta, options, costs
        The ``case.toml`` sections as dicts with every key of :data:`tenflow.case.tables.META` etc.
    buffers, roads, parking, chargers, lines, generators, variable_generators, loads, evs, itineraries
        One :class:`pandas.DataFrame` per component table, columns in schema order, defaults resolved,
        ids as strings, a default ``RangeIndex`` (row ``i`` is CSV data row ``i + 1``).
    profiles
        DataFrame with column ``k`` (0..K-1) and one float column per named profile.
    path
        Folder the case was loaded from (not part of equality).
    """

    meta: dict[str, Any]
    options: dict[str, Any]
    costs: dict[str, Any]
    buffers: pd.DataFrame
    roads: pd.DataFrame
    parking: pd.DataFrame
    chargers: pd.DataFrame
    lines: pd.DataFrame
    generators: pd.DataFrame
    variable_generators: pd.DataFrame
    loads: pd.DataFrame
    evs: pd.DataFrame
    itineraries: pd.DataFrame
    profiles: pd.DataFrame
    path: Path | None = field(default=None, compare=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        meta: Mapping[str, Any],
        options: Mapping[str, Any] | None = None,
        costs: Mapping[str, Any] | None = None,
        *,
        validate: bool = True,
        **tables: pd.DataFrame | Mapping[str, Any] | None,
    ) -> Case:
        """Build a case in memory from plain frames/dicts, filling defaults exactly as :func:`load_case` does.

        ``tables`` are keyword arguments named like the CSV tables (``buffers=...``); missing optional tables
        are empty. Raises :class:`CaseError` when ``validate`` and the case is invalid.
        """
        unknown = set(tables) - set(T.TABLE_NAMES)
        if unknown:
            raise CaseError(f"unknown table(s) {sorted(unknown)} (allowed: {', '.join(T.TABLE_NAMES)})")
        issues = IssueCollector()
        m = T.META.parse(dict(meta), file=CASE_TOML, issues=issues)
        o = T.OPTIONS.parse(dict(options or {}), file=CASE_TOML, issues=issues)
        c = T.COSTS.parse(dict(costs or {}), file=CASE_TOML, issues=issues)
        issues.raise_if_any()
        frames: dict[str, pd.DataFrame] = {}
        for comp in T.TABLES:
            raw = tables.get(comp.name)
            df = comp.empty_frame() if raw is None else pd.DataFrame(raw).reset_index(drop=True)
            frames[comp.name] = _normalize(df, comp)
        prof = tables.get("profiles")
        profiles = _normalize_profiles(pd.DataFrame({"k": np.arange(int(m["K"]))}) if prof is None
                                       else pd.DataFrame(prof))
        case = cls(meta=m, options=o, costs=c, profiles=profiles, **frames)
        _resolve_inherited(case)
        if validate:
            from tenflow.case.validate import validate_case

            validate_case(case).raise_if_any()
        return case

    # ------------------------------------------------------------------ basic properties
    @property
    def K(self) -> int:
        """Number of firing steps (omtepf.md §1.1)."""
        return int(self.meta["K"])

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    def table(self, name: str) -> pd.DataFrame:
        """The component table ``name`` (e.g. ``"roads"``)."""
        if name not in T.TABLE_NAMES:
            raise KeyError(name)
        return getattr(self, name)  # type: ignore[no-any-return]

    @property
    def buffer_ids(self) -> list[str]:
        return [str(x) for x in self.buffers["id"]]

    @property
    def bus_ids(self) -> list[str]:
        """Buffers that are electrical buses, in buffer order."""
        return [str(x) for x in self.buffers.loc[self.buffers["is_bus"], "id"]]

    @property
    def ev_ids(self) -> list[str]:
        return [str(x) for x in self.evs["id"]]

    def counts(self) -> dict[str, int]:
        """Number of rows of every component table (profiles: number of named profiles)."""
        out = {c.name: len(self.table(c.name)) for c in T.TABLES}
        out["profiles"] = len(self.profiles.columns) - 1
        out["buses"] = int(self.buffers["is_bus"].sum())
        return out

    # ------------------------------------------------------------------ derived electrical data
    def profile(self, name: str) -> np.ndarray:
        """Profile column ``name`` as a float array of length K."""
        return self.profiles[name].to_numpy(dtype=float)

    def load_admittance(self) -> tuple[np.ndarray, np.ndarray]:
        """Load conductance and susceptance ``(G, B)``, each of shape ``(K, n_loads)`` (omtepf.md §4.5).

        ``G[k, d] = profile_d[k]``, ``B = -G tan(acos pf)`` (inductive for pf < 1).
        """
        n = len(self.loads)
        G = np.zeros((self.K, n))
        for j, name in enumerate(self.loads["g_profile"]):
            G[:, j] = self.profile(str(name))
        tanphi = np.tan(np.arccos(self.loads["pf"].to_numpy(dtype=float)))
        return G, -G * tanphi[None, :]

    def pv_current(self) -> np.ndarray:
        """Complex injected current of every variable generator, shape ``(K, n_vg)`` (omtepf.md §4.5).

        ``I_s[k] = i_max σ(k) (pf - j sqrt(1 - pf²))``.
        """
        n = len(self.variable_generators)
        out = np.zeros((self.K, n), dtype=complex)
        vg = self.variable_generators
        for j in range(n):
            pf = float(vg["pf"].iat[j])
            u = pf - 1j * math.sqrt(max(0.0, 1.0 - pf * pf))
            out[:, j] = float(vg["i_max"].iat[j]) * self.profile(str(vg["profile"].iat[j])) * u
        return out

    # ------------------------------------------------------------------ equality and IO
    def equals(self, other: object) -> bool:
        """Exact equality of all sections and tables (values, dtypes, column order)."""
        if not isinstance(other, Case):
            return False
        if (self.meta, self.options, self.costs) != (other.meta, other.options, other.costs):
            return False
        for name in T.TABLE_NAMES:
            a, b = self.table(name), other.table(name)
            if list(a.columns) != list(b.columns) or len(a) != len(b):
                return False
            if not a.reset_index(drop=True).equals(b.reset_index(drop=True)):
                return False
        return True

    def __eq__(self, other: object) -> bool:
        return self.equals(other)

    __hash__ = None  # type: ignore[assignment]

    def diff(self, other: Case) -> list[str]:
        """Human-readable list of differences (empty when equal); useful in test failures."""
        out: list[str] = []
        for sec in ("meta", "options", "costs"):
            if getattr(self, sec) != getattr(other, sec):
                out.append(f"[{sec}] {getattr(self, sec)} != {getattr(other, sec)}")
        for name in T.TABLE_NAMES:
            a, b = self.table(name), other.table(name)
            if not (list(a.columns) == list(b.columns) and len(a) == len(b) and a.equals(b)):
                out.append(f"{name}: differs\n{a}\n!=\n{b}")
        return out

    def save(self, path: str | Path) -> Path:
        """Write the case folder (``case.toml`` + every table, canonical form). Returns the folder."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        doc = {s.name: s.dump(getattr(self, s.name)) for s in T.SECTIONS}
        (folder / CASE_TOML).write_text(tomli_w.dumps(doc), encoding="utf-8")
        for comp in T.TABLES:
            write_table(folder, comp, self.table(comp.name))
        _write_profiles(folder / "profiles.csv", self.profiles)
        return folder

    def copy(self) -> Case:
        """A deep copy."""
        return Case(
            meta=dict(self.meta), options=dict(self.options), costs=dict(self.costs),
            profiles=self.profiles.copy(),
            **{c.name: self.table(c.name).copy() for c in T.TABLES},
            path=self.path,
        )

    def validate(self) -> None:
        """Re-validate (e.g. after editing tables in memory); raises :class:`CaseError`."""
        from tenflow.case.validate import validate_case

        validate_case(self).raise_if_any()

    def __repr__(self) -> str:
        c = self.counts()
        return f"Case({self.name!r}, K={self.K}, " + ", ".join(f"{k}={v}" for k, v in c.items()) + ")"


# ---------------------------------------------------------------------------------------------- helpers
def _normalize(df: pd.DataFrame, comp: Component) -> pd.DataFrame:
    """Schema columns in schema order with schema dtypes; missing optional columns get their default."""
    out: dict[str, Any] = {}
    n = len(df)
    for a in comp.attrs:
        if a.name in df.columns:
            col = df[a.name]
        else:
            if a.required:
                raise CaseError("required column is missing", file=comp.filename, field=a.name)
            col = pd.Series([a.default] * n, dtype=object)
        col = col.reset_index(drop=True)
        if a.dtype == "str":
            col = col.map(lambda v: v if v is None else str(v)).astype(object)
        elif a.dtype == "float":
            col = pd.to_numeric(col.map(lambda v: math.nan if v is None else v), errors="coerce").astype("float64")
        elif a.dtype == "int":
            if col.isna().any():
                raise CaseError("empty cell in an integer column", file=comp.filename, field=a.name)
            try:
                conv = col.astype("int64")
            except (ValueError, TypeError, OverflowError) as exc:
                raise CaseError(f"not an integer column ({exc})", file=comp.filename, field=a.name) from None
            if not (pd.to_numeric(col, errors="coerce") == conv).all():
                raise CaseError("non-integer values in an integer column", file=comp.filename, field=a.name)
            col = conv
        elif a.dtype == "bool" and not col.isna().any():
            if not col.map(lambda v: isinstance(v, (bool, np.bool_))).all():
                raise CaseError("non-boolean values in a boolean column", file=comp.filename, field=a.name)
            col = col.astype(bool)
        out[a.name] = col
    return pd.DataFrame(out, columns=comp.columns)


def _normalize_profiles(df: pd.DataFrame) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    out = {"k": df["k"].astype("int64")} if "k" in df.columns else {}
    for c in df.columns:
        if c != "k":
            out[str(c)] = df[c].astype("float64")
    return pd.DataFrame(out)


def _resolve_inherited(case: Case) -> None:
    """Fill attributes whose empty value inherits a case-level setting (documented in the schema)."""

    def fill(df: pd.DataFrame, col: str, value: Any, dtype: str) -> None:
        if len(df) == 0:
            df[col] = df[col].astype(_NP_DTYPE[dtype])
            return
        s = df[col]
        if dtype == "float":
            s = pd.to_numeric(s, errors="coerce")
        df[col] = s.where(s.notna(), value).astype(_NP_DTYPE[dtype])

    fill(case.roads, "cost", float(case.costs["c_T"]), "float")
    fill(case.chargers, "revenue_per_unit", float(case.costs["c_C"]), "float")
    fill(case.variable_generators, "price_report", float(case.costs["lambda_S"]), "float")
    fill(case.lines, "one_way", bool(case.options["one_way_lines"]), "bool")


def _read_profiles(folder: Path, K: int | None, issues: IssueCollector) -> pd.DataFrame:
    """Read profiles.csv: column ``k`` plus one numeric, finite column per named profile, exactly K rows."""
    fname = "profiles.csv"
    path = folder / fname
    empty = pd.DataFrame({"k": np.arange(K or 0, dtype="int64")})
    if not path.is_file():
        return empty
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        issues.add(f"cannot be read: {exc}", file=fname)
        return empty
    if not rows:
        issues.add("file is empty (no header row)", file=fname)
        return empty
    header = [h.strip() for h in rows[0]]
    n0 = len(issues.issues)
    if not header or header[0] != "k":
        issues.add("the first column must be 'k'", file=fname, field=header[0] if header else None)
        return empty
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        issues.add(f"duplicate profile name(s) {dup}", file=fname, field=dup[0])
    if any(h == "" for h in header):
        issues.add("empty column name", file=fname)
    body = rows[1:]
    data: dict[str, list[float]] = {h: [] for h in header}
    for r, row in enumerate(body, start=1):
        if len(row) != len(header):
            issues.add(f"{len(row)} cells but the header has {len(header)}", file=fname, row=r)
            continue
        for h, cell in zip(header, row, strict=True):
            text = cell.strip()
            try:
                v = float(text)
            except ValueError:
                issues.add(f"'{text}' is not a number", file=fname, row=r, field=h)
                continue
            if not math.isfinite(v):
                issues.add(f"'{text}' is not finite", file=fname, row=r, field=h)
            data[h].append(v)
    if len(issues.issues) > n0:
        return empty
    if K is not None and len(body) != K:
        issues.add(f"profile length {len(body)} != K = {K} (one row per step k = 0..K-1)", file=fname)
        return empty
    ks = np.asarray(data["k"])
    if not np.array_equal(ks, np.arange(len(body))):
        bad = int(np.flatnonzero(ks != np.arange(len(body)))[0])
        issues.add(f"k must be 0..K-1 in order (found {data['k'][bad]:g})", file=fname, row=bad + 1, field="k")
        return empty
    out: dict[str, Any] = {"k": ks.astype("int64")}
    for h in header[1:]:
        out[h] = np.asarray(data[h], dtype="float64")
    return pd.DataFrame(out)


def _write_profiles(path: Path, df: pd.DataFrame) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(list(df.columns))
        cols = [df[c].to_numpy() for c in df.columns]
        for i in range(len(df)):
            w.writerow([str(int(cols[0][i]))] + [repr(float(c[i])) for c in cols[1:]])


def read_case(path: str | Path, *, validate: bool = True) -> Case:
    """Read a case folder; see :func:`load_case`."""
    folder = Path(path)
    if not folder.exists():
        raise CaseError(f"case folder '{folder}' does not exist")
    if folder.is_file() and folder.name == CASE_TOML:
        folder = folder.parent
    if not folder.is_dir():
        raise CaseError(f"'{folder}' is not a case folder (expected a folder containing {CASE_TOML})")
    issues = IssueCollector()
    doc = read_toml(folder / CASE_TOML)
    if isinstance(doc.get("case"), dict) and doc["case"].get("kind") == "mess":
        raise CaseError("this is a MESS case ([case] kind = \"mess\"); load it with tenflow.cases.load_path() "
                        "or tenflow.mess.case.load_mess_case()", file=CASE_TOML, field="case.kind")
    for key, value in doc.items():
        if key not in {s.name for s in T.SECTIONS}:
            issues.add(f"unknown section [{key}] (allowed: meta, options, costs)", file=CASE_TOML, field=key)
        elif not isinstance(value, dict):
            issues.add(f"'{key}' must be a [section]", file=CASE_TOML, field=key)
    sec = {s.name: s.parse(doc.get(s.name, {}) if isinstance(doc.get(s.name), dict) else {},
                           file=CASE_TOML, issues=issues) for s in T.SECTIONS}
    K = sec["meta"].get("K")
    k_max = next(a.max for a in T.META.attrs if a.name == "K")
    K = int(K) if isinstance(K, int) and not isinstance(K, bool) and 0 < K <= (k_max or K) else None
    frames = {comp.name: read_table(folder, comp, issues) for comp in T.TABLES}
    profiles = _read_profiles(folder, K, issues)
    issues.raise_if_any()
    frames = {name: _normalize(df, next(c for c in T.TABLES if c.name == name)) for name, df in frames.items()}
    case = Case(meta=sec["meta"], options=sec["options"], costs=sec["costs"], profiles=profiles, path=folder,
                **frames)
    _resolve_inherited(case)
    if validate:
        from tenflow.case.validate import validate_case

        validate_case(case).raise_if_any()
    return case


def load_case(path: str | Path) -> Case:
    """Load and validate the case folder ``path`` (omtepf.md §8.1).

    Raises
    ------
    CaseError
        Listing every problem found, each naming file, row, field and reason.
    """
    return read_case(path, validate=True)
