"""Progress display: a rich progress bar on an interactive terminal, silence in tests and pipes."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def interactive() -> bool:
    """True when progress should be shown (stderr is a terminal, not under pytest or CI)."""
    if os.environ.get("TENFLOW_PROGRESS") == "0" or "PYTEST_CURRENT_TEST" in os.environ:
        return False
    if os.environ.get("TENFLOW_PROGRESS") == "1":
        return True
    return sys.stderr.isatty()


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` showing a progress bar when :func:`interactive`."""
    if not interactive():
        yield from items
        return
    from rich.progress import track as rich_track

    yield from rich_track(items, description=description, total=total, transient=True)


def status(message: str) -> None:
    """Print a one-line status message to stderr on a terminal (nothing otherwise)."""
    if interactive():
        from rich.console import Console

        Console(stderr=True).print(f"[dim]{message}[/dim]")
