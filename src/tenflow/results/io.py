"""Atomic result writing and provenance records.

Writing results never leaves a half-written file or folder behind: files are written to a temporary
sibling and renamed; a result folder is assembled in a temporary sibling folder and swapped in at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

_PACKAGES = ("tenflow", "numpy", "scipy", "pandas", "highspy", "clarabel", "numba", "pyscipopt",
             "gurobipy", "pandapower", "matplotlib")


def versions() -> dict[str, str]:
    """Versions of Python and of the packages that can influence a result."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def provenance(**fields: Any) -> dict[str, Any]:
    """A provenance record: the given fields plus versions and a UTC time stamp."""
    rec: dict[str, Any] = dict(fields)
    rec["versions"] = versions()
    rec["created_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return rec


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _atomic_file(path: Path) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success, remove it on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; results get the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    p = Path(path)
    with _atomic_file(p) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    return p


def write_json(path: str | Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)


def write_table(df: pd.DataFrame, path: str | Path, fmt: str = "csv") -> Path:
    """Write a tidy table as CSV or Parquet (atomically); returns the path written."""
    p = Path(path).with_suffix(".parquet" if fmt == "parquet" else ".csv")
    with _atomic_file(p) as tmp:
        if fmt == "parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False, lineterminator="\n")
    return p


@contextlib.contextmanager
def atomic_dir(out: str | Path) -> Iterator[Path]:
    """Assemble a result folder in a temporary sibling, then replace ``out`` with it.

    On an exception the temporary folder is removed and ``out`` is left as it was.
    """
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}-{time.time_ns()}"
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
