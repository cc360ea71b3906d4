"""docs/reliability.md stays true: every test its table names exists, and every test of the fault
suite (tests/faults/ and tests/faults/catalog.py) is named in it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.faults.catalog import FAULT_TESTS

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def _named_in_doc() -> set[str]:
    return set(re.findall(r"`(tests/[\w/]+\.py::test_\w+)`", DOC.read_text()))


def test_every_test_the_doc_names_exists():
    missing = [ref for ref in sorted(_named_in_doc())
               if ref.split("::")[1] not in _tests_in(ROOT / ref.split("::")[0])]
    assert _named_in_doc() and missing == []


def test_every_fault_test_is_in_the_doc():
    own = {f"tests/faults/{p.name}::{name}" for p in (ROOT / "tests" / "faults").glob("test_*.py")
           if p.name not in ("test_catalog.py", "test_bad_input.py")  # bad input: its own section
           for name in _tests_in(p)}
    assert sorted((own | set(FAULT_TESTS)) - _named_in_doc()) == []
    gone = [ref for ref in FAULT_TESTS if ref.split("::")[1] not in _tests_in(ROOT / ref.split("::")[0])]
    assert gone == [], "catalog names tests that no longer exist"
