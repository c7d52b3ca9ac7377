"""Case data model, schema tables, validation and folder IO (omtepf.md §8.1).

>>> from tenflow.case import load_case
>>> case = load_case("path/to/case")        # validated Case; raises tenflow.CaseError
>>> case.save("copy"); load_case("copy") == case
True
"""

from __future__ import annotations

from tenflow.case.model import CASE_TOML, Case, load_case, read_case
from tenflow.case.validate import validate_case

__all__ = ["CASE_TOML", "Case", "load_case", "read_case", "validate_case"]
