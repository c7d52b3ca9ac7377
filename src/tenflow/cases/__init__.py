"""Built-in cases shipped as package data under ``tenflow/cases/data/<name>/``.

>>> import tenflow
>>> tenflow.cases.list()                       # every folder under data/
['symmetrica-lite', ...]
>>> case = tenflow.cases.load("symmetrica-lite")

Each folder holds a ``case.toml``. OMTEPF cases (``[meta] kind = "omtepf"`` or no kind) load with
:func:`tenflow.case.load_case`; MESS cases (``[case] kind = "mess"``) with
``tenflow.mess.case.load_mess_case`` (imported lazily).
"""

from __future__ import annotations

import builtins
import importlib
from pathlib import Path
from typing import Any

from tenflow.case.schema import read_toml
from tenflow.errors import CaseError

DATA = Path(__file__).resolve().parent / "data"

__all__ = ["DATA", "case_kind", "list", "load", "path", "resolve"]


def list() -> builtins.list[str]:  # noqa: A001 - the public name asked for by the API
    """Names of all built-in cases (folder names under ``data/``), sorted."""
    if not DATA.is_dir():
        return []
    return sorted(p.name for p in DATA.iterdir() if p.is_dir() and (p / "case.toml").is_file())


def path(name: str) -> Path:
    """Folder of the built-in case ``name``; :class:`CaseError` listing the available names otherwise."""
    p = DATA / name
    if not (p / "case.toml").is_file():
        raise CaseError(f"unknown built-in case '{name}' (available: {', '.join(list()) or 'none'})")
    return p


def resolve(name_or_path: str | Path) -> Path:
    """A case folder from a built-in case name or a filesystem path."""
    p = Path(name_or_path)
    if p.exists():
        return p.parent if p.is_file() else p
    if isinstance(name_or_path, str) and "/" not in name_or_path and name_or_path in list():
        return path(name_or_path)
    raise CaseError(f"'{name_or_path}' is neither a case folder nor a built-in case "
                    f"(available: {', '.join(list()) or 'none'})")


def case_kind(folder: str | Path) -> str:
    """``"mess"`` for a MESS case (``[case] kind = "mess"``), ``"omtepf"`` otherwise."""
    doc = read_toml(Path(folder) / "case.toml")
    sec = doc.get("case")
    if isinstance(sec, dict) and sec.get("kind") == "mess":
        return "mess"
    meta = doc.get("meta")
    if isinstance(meta, dict) and meta.get("kind") == "mess":
        return "mess"
    return "omtepf"


def load_path(folder: str | Path) -> Any:
    """Load the case folder, dispatching on its kind (OMTEPF :class:`~tenflow.case.Case` or MESS case)."""
    if case_kind(folder) == "mess":
        mod = importlib.import_module("tenflow.mess.case")
        return mod.load_mess_case(Path(folder))
    from tenflow.case.model import load_case

    return load_case(folder)


def load(name: str) -> Any:
    """Load the built-in case ``name`` (an OMTEPF :class:`~tenflow.case.Case` or a MESS case)."""
    return load_path(path(name))
