"""Component schema tables: one declaration per attribute drives validation, defaults, IO and docs.

Modelled on PyPSA's component attribute tables: every CSV table of a case is a *component* whose
columns are declared once as :class:`Attr` rows (name, type, unit, default, description, range).
:func:`read_table` turns a CSV file into a typed :class:`pandas.DataFrame`, reporting every problem
as a :class:`tenflow.errors.Issue` that names the file, the 1-based data row and the column;
:func:`write_table` writes the canonical form so that ``read_table(write_table(df))`` round-trips
exactly; :func:`schema_markdown` renders the documentation tables.

Both capabilities (OMTEPF and MESS) declare their tables with this module.
"""

from __future__ import annotations

import csv
import math
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from tenflow.errors import CaseError, Issue, IssueCollector

DType = Literal["int", "float", "str", "bool"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: sentinel default of a column that must be present and non-empty
REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Attr:
    """One column of a component table.

    Parameters
    ----------
    name, dtype, unit, default, description
        As in PyPSA's attribute tables. ``default=REQUIRED`` makes the column mandatory.
    min, max
        Inclusive bounds for numeric columns (``None`` = unbounded).
    positive
        Strict lower bound ``> 0`` for numeric columns.
    choices
        Allowed values for ``str`` columns.
    """

    name: str
    dtype: DType
    unit: str = ""
    default: Any = REQUIRED
    description: str = ""
    min: float | None = None
    max: float | None = None
    positive: bool = False
    choices: tuple[str, ...] | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Component:
    """A component table (one CSV file) of a case."""

    name: str
    attrs: tuple[Attr, ...]
    description: str = ""
    key: tuple[str, ...] = ("id",)
    required: bool = True
    allow_empty: bool = False
    file: str = ""

    @property
    def filename(self) -> str:
        return self.file or f"{self.name}.csv"

    @property
    def columns(self) -> list[str]:
        return [a.name for a in self.attrs]

    def attr(self, name: str) -> Attr:
        for a in self.attrs:
            if a.name == name:
                return a
        raise KeyError(name)

    def empty_frame(self) -> pd.DataFrame:
        return pd.DataFrame({a.name: pd.Series([], dtype=_pandas_dtype(a.dtype)) for a in self.attrs})


def _pandas_dtype(dtype: DType) -> str:
    return {"int": "int64", "float": "float64", "str": "object", "bool": "bool"}[dtype]


_INT64_MAX = 2**63 - 1
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _convert_cell(raw: str, attr: Attr) -> tuple[Any, str | None]:
    """Convert one CSV cell; return ``(value, error_reason_or_None)``."""
    text = raw.strip()
    if text == "":
        if attr.required:
            return None, "empty cell in a required column"
        return attr.default, None
    try:
        if attr.dtype == "int":
            f = float(text)
            if not math.isfinite(f) or f != int(f):
                return None, f"'{text}' is not an integer"
            value: Any = int(f)
            if abs(value) > _INT64_MAX:
                return None, f"'{text}' is out of the integer range"
        elif attr.dtype == "float":
            value = float(text)
            if math.isnan(value):
                return None, "NaN is not allowed"
        elif attr.dtype == "bool":
            low = text.lower()
            if low in _TRUE:
                value = True
            elif low in _FALSE:
                value = False
            else:
                return None, f"'{text}' is not a boolean (true/false)"
        else:
            value = text
    except ValueError:
        kind = "an integer" if attr.dtype == "int" else "a number"
        return None, f"'{text}' is not {kind}"
    return value, _check_range(value, attr)


def _check_range(value: Any, attr: Attr) -> str | None:
    if attr.dtype in ("int", "float") and value is not None:
        v = float(value)
        if attr.positive and not v > 0:
            return f"{attr.name} = {value} (must be > 0)"
        if attr.min is not None and v < attr.min:
            return f"{attr.name} = {value} (must be >= {attr.min:g})"
        if attr.max is not None and v > attr.max:
            return f"{attr.name} = {value} (must be <= {attr.max:g})"
    if attr.choices is not None and value not in attr.choices:
        return f"{attr.name} = '{value}' (must be one of {', '.join(attr.choices)})"
    return None


def read_table(
    folder: str | Path,
    comp: Component,
    issues: IssueCollector | None = None,
    *,
    unknown_columns: Literal["error", "ignore"] = "error",
) -> pd.DataFrame:
    """Read and type-check one component table ``folder / comp.filename``.

    Problems are added to ``issues`` (or raised at once as :class:`CaseError` when ``issues`` is None).
    Returns a frame with exactly the schema's columns in schema order (defaults filled in).
    """
    own = issues is None
    col = IssueCollector() if issues is None else issues
    path = Path(folder) / comp.filename
    fname = comp.filename
    if not path.is_file():
        if comp.required:
            col.add("file is missing", file=fname)
        if own:
            col.raise_if_any()
        return comp.empty_frame()
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        col.add(f"cannot be read: {exc}", file=fname)
        if own:
            col.raise_if_any()
        return comp.empty_frame()
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        col.add("file is empty (no header row)", file=fname)
        if own:
            col.raise_if_any()
        return comp.empty_frame()
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    n_before = len(col.issues)
    known = set(comp.columns)
    seen: set[str] = set()
    for h in header:
        if h in seen:
            col.add(f"column '{h}' appears twice", file=fname, field=h)
        seen.add(h)
        if h not in known and unknown_columns == "error":
            col.add(f"unknown column '{h}' (allowed: {', '.join(comp.columns)})", file=fname, field=h)
    for a in comp.attrs:
        if a.required and a.name not in seen:
            col.add("required column is missing", file=fname, field=a.name)
    if not body and not comp.allow_empty:
        col.add("table is empty (header only)", file=fname)
    if len(col.issues) > n_before:
        if own:
            col.raise_if_any()
        return comp.empty_frame()
    pos = {h: i for i, h in enumerate(header)}
    data: dict[str, list[Any]] = {a.name: [] for a in comp.attrs}
    for r, row in enumerate(body, start=1):
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            col.add(f"{len(row)} cells but the header has {len(header)}", file=fname, row=r)
        for a in comp.attrs:
            raw = row[pos[a.name]] if a.name in pos and pos[a.name] < len(row) else ""
            value, err = _convert_cell(raw, a)
            if err:
                col.add(err, file=fname, row=r, field=a.name)
            data[a.name].append(value)
    if len(col.issues) > n_before:
        if own:
            col.raise_if_any()
        return comp.empty_frame()
    df = pd.DataFrame(data, columns=comp.columns)
    for a in comp.attrs:
        if a.dtype in ("int", "float", "bool") and df[a.name].notna().all():
            df[a.name] = df[a.name].astype(_pandas_dtype(a.dtype))
    _check_keys(df, comp, col)
    if own:
        col.raise_if_any()
    return df


def _check_keys(df: pd.DataFrame, comp: Component, col: IssueCollector) -> None:
    if not comp.key or any(k not in df.columns for k in comp.key):
        return
    dup = df.duplicated(subset=list(comp.key), keep="first")
    for idx in np.flatnonzero(dup.to_numpy()):
        key = ", ".join(f"{k}={df.iloc[idx][k]}" for k in comp.key)
        col.add(f"duplicate id ({key})", file=comp.filename, row=int(idx) + 1, field=comp.key[0])


def _format_value(value: Any, dtype: DType) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if dtype == "float":
        return repr(float(value))
    if dtype == "int":
        return str(int(value))
    if dtype == "bool":
        return "true" if bool(value) else "false"
    return str(value)


def write_table(folder: str | Path, comp: Component, df: pd.DataFrame) -> Path:
    """Write ``df`` in canonical form (schema column order, shortest round-trip floats)."""
    path = Path(folder) / comp.filename
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(comp.columns)
        for rec in df[comp.columns].itertuples(index=False, name=None):
            w.writerow([_format_value(v, a.dtype) for v, a in zip(rec, comp.attrs, strict=True)])
    return path


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, turning parse errors into :class:`CaseError` with the file name."""
    p = Path(path)
    if not p.is_file():
        raise CaseError("file is missing", file=p.name)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(f"invalid TOML: {exc}", file=p.name) from None


def check_keys(
    data: dict[str, Any], allowed: Iterable[str], *, file: str, section: str, issues: IssueCollector
) -> None:
    """Report keys of ``data`` that are not in ``allowed`` (catches typos)."""
    allowed_set = set(allowed)
    for key in data:
        if key not in allowed_set:
            issues.add(
                f"unknown key '{key}' in [{section}] (allowed: {', '.join(sorted(allowed_set))})",
                file=file,
                field=f"{section}.{key}" if section else key,
            )


def schema_markdown(components: Sequence[Component], title: str = "") -> str:
    """Render component schema tables as Markdown (used to generate ``docs/*.md``)."""
    out: list[str] = [f"# {title}\n"] if title else []
    for c in components:
        out.append(f"## `{c.filename}` — {c.name}\n")
        if c.description:
            out.append(c.description + "\n")
        flags = []
        flags.append("required file" if c.required else "optional file")
        if c.key:
            flags.append("key: " + ", ".join(f"`{k}`" for k in c.key))
        out.append("(" + "; ".join(flags) + ")\n")
        out.append("| attribute | type | unit | default | description |")
        out.append("|---|---|---|---|---|")
        out.extend(attr_markdown_row(a) for a in c.attrs)
        out.append("")
    return "\n".join(out)


def attr_markdown_row(a: Attr, default: str | None = None) -> str:
    """One Markdown table row ``| name | type | unit | default | description (range) |`` of an attribute."""
    if default is None:
        default = "**required**" if a.required else f"`{a.default}`"
    rng: list[str] = []
    if a.positive:
        rng.append("> 0")
    if a.min is not None:
        rng.append(f">= {a.min:g}")
    if a.max is not None:
        rng.append(f"<= {a.max:g}")
    if a.choices:
        rng.append("one of " + ", ".join(f"`{x}`" for x in a.choices))
    desc = a.description + (f" ({'; '.join(rng)})" if rng else "")
    return f"| `{a.name}` | {a.dtype} | {a.unit} | {default} | {desc} |"


@dataclass
class Section:
    """A typed section of ``case.toml`` declared like a component (key, type, unit, default, description)."""

    name: str
    attrs: tuple[Attr, ...]
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def parse(self, data: dict[str, Any], *, file: str, issues: IssueCollector) -> dict[str, Any]:
        """Validate the TOML table ``data`` against this section; return values with defaults."""
        check_keys(data, [a.name for a in self.attrs], file=file, section=self.name, issues=issues)
        out: dict[str, Any] = {}
        for a in self.attrs:
            key = f"{self.name}.{a.name}" if self.name else a.name
            if a.name not in data:
                if a.required:
                    issues.add("required key is missing", file=file, field=key)
                out[a.name] = None if a.required else a.default
                continue
            v = data[a.name]
            ok = {
                "int": isinstance(v, int) and not isinstance(v, bool),
                "float": isinstance(v, (int, float)) and not isinstance(v, bool),
                "str": isinstance(v, str),
                "bool": isinstance(v, bool),
            }[a.dtype]
            if not ok:
                issues.add(f"{key} = {v!r} is not of type {a.dtype}", file=file, field=key)
                out[a.name] = a.default if not a.required else None
                continue
            if a.dtype == "float":
                v = float(v)
                if math.isnan(v):
                    issues.add(f"{key} is NaN", file=file, field=key)
            err = _check_range(v, a)
            if err:
                issues.add(err, file=file, field=key)
            out[a.name] = v
        return out

    def dump(self, values: dict[str, Any]) -> dict[str, Any]:
        """Values to write back (all keys, defaults included, in schema order)."""
        return {a.name: values[a.name] for a in self.attrs if values.get(a.name) is not None}


def issue_list(issues: IssueCollector) -> list[Issue]:
    return list(issues.issues)
