"""Exception types of tenflow.

Every error a user can cause (bad input, infeasible model, solver failure) is raised as a subclass of
:class:`TenflowError` with a message that names the file, row, field, entity and reason, so that no
traceback from deep inside numpy or pandas reaches the user.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class TenflowError(Exception):
    """Base class of all tenflow errors."""

    #: process exit code used by the CLI for this error class
    exit_code: int = 1


@dataclass(frozen=True)
class Issue:
    """One problem found in an input.

    Parameters
    ----------
    reason
        Human-readable reason, e.g. ``"length_km = -5 (must be > 0)"``.
    file
        File name (relative to the case folder) or ``None``.
    row
        1-based data row number in a CSV table (header excluded), or ``None``.
    field
        Column / key name, or ``None``.
    code
        Optional machine-readable code such as ``"E-ARC-LENGTH"``.
    """

    reason: str
    file: str | None = None
    row: int | None = None
    field: str | None = None
    code: str | None = None

    def __str__(self) -> str:
        where: list[str] = []
        if self.file:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(f"field '{self.field}'")
        prefix = f"[{self.code}] " if self.code else ""
        loc = " ".join(where)
        return f"{prefix}{loc}: {self.reason}" if loc else f"{prefix}{self.reason}"


class CaseError(TenflowError):
    """A case (input data) is invalid.

    Collects one or more :class:`Issue` objects; the message lists all of them.
    """

    exit_code = 2

    def __init__(
        self,
        reason: str | Sequence[Issue],
        *,
        file: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
        code: str | None = None,
    ) -> None:
        if isinstance(reason, str):
            issues: list[Issue] = [
                Issue(reason, str(file) if file is not None else None, row, field, code)
            ]
        else:
            issues = list(reason)
        self.issues: list[Issue] = issues
        super().__init__(self._format(issues))

    @staticmethod
    def _format(issues: Sequence[Issue]) -> str:
        if len(issues) == 1:
            return str(issues[0])
        lines = [f"{len(issues)} problems found:"] + [f"  - {i}" for i in issues]
        return "\n".join(lines)

    @property
    def codes(self) -> list[str]:
        return [i.code for i in self.issues if i.code]


class IssueCollector:
    """Collect issues while validating and raise one :class:`CaseError` at the end."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self.warnings: list[Issue] = []

    def add(
        self,
        reason: str,
        *,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
        code: str | None = None,
    ) -> None:
        self.issues.append(Issue(reason, file, row, field, code))

    def warn(self, reason: str, *, file: str | None = None, code: str | None = None) -> None:
        self.warnings.append(Issue(reason, file, None, None, code))

    def extend(self, issues: Iterable[Issue]) -> None:
        self.issues.extend(issues)

    def __bool__(self) -> bool:
        return bool(self.issues)

    def raise_if_any(self) -> None:
        if self.issues:
            raise CaseError(self.issues)


@dataclass
class InfeasibleError(TenflowError):
    """A model has no feasible solution.

    ``details`` names what is infeasible as far as it could be found (EVs, windows, buses, steps, sites).
    """

    message: str
    details: list[str] = field(default_factory=list)
    exit_code: int = 3

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        if not self.details:
            return self.message
        return self.message + "\n" + "\n".join(f"  - {d}" for d in self.details)


class SolverError(TenflowError):
    """A solver failed, is not installed, or returned an unexpected status."""

    exit_code = 1
