"""The small public API: every exported name resolves, and the entry points work on the built-in cases."""

from __future__ import annotations

import pytest

import tenflow


@pytest.mark.parametrize("name", tenflow.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(tenflow, name) is not None


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        tenflow.no_such_thing  # noqa: B018


def test_load_case_from_path_equals_builtin() -> None:
    case = tenflow.load_case(tenflow.cases.path("symmetrica-lite"))
    assert case == tenflow.cases.load("symmetrica-lite")
    assert tenflow.build_nets(case).summary()["places"] == 884


def test_mess_entry_points_on_the_micro_case() -> None:
    res = tenflow.solve_mess(tenflow.load_mess_case("mess-tiny"))
    assert res.status == "optimal"
    assert res.objective == pytest.approx(260.716919, abs=1e-6)  # mess.md Appendix C (exhaustive enumeration)
