"""docs/case-format.md is generated from the schema and must match the committed file."""

from __future__ import annotations

from pathlib import Path

from tenflow.case import tables as T
from tenflow.case.docs import case_format_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "case-format.md"


def test_committed_doc_is_generated() -> None:
    assert DOC.read_text(encoding="utf-8") == case_format_markdown(), (
        "docs/case-format.md is stale: run `python -m tenflow.case.docs`")


def test_doc_mentions_every_attribute() -> None:
    text = case_format_markdown()
    for comp in T.TABLES:
        assert f"`{comp.filename}`" in text
        for a in comp.attrs:
            assert f"| `{a.name}` |" in text
    for sec in T.SECTIONS:
        assert f"`[{sec.name}]`" in text
    for modality in ("private residential", "commercial", "by-wire while moving", "inductive", "vehicle-to-grid"):
        assert modality in text
