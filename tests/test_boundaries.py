"""The repository's boundaries, checked by reading files (no import, no warehouse):

* production code imports nothing from the sandbox (``revops.sandbox``), not even for type
  checking: the sandbox is used by ``revops demo`` / ``revops sandbox serve`` (lazily, inside
  the commands), the tests and the benchmarks only;
* no tracked file names a path of a development machine or the notes kept outside the repo: the
  repository stands alone.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "revops"
SANDBOX = "revops.sandbox"
#: the only module outside the sandbox that may use it, and only inside its command functions
CLI = PACKAGE / "cli.py"


def _production_modules() -> list[Path]:
    files = [p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] != "sandbox"]
    files += list((ROOT / "flows").rglob("*.py"))
    return sorted(p for p in files if p != CLI)


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent if path.is_relative_to(PACKAGE) else ROOT).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """Modules an import statement (or ``importlib.import_module("...")`` call) names."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join(package + ([node.module] if node.module else []))
        return [base] + [f"{base}.{a.name}" for a in node.names]
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
            return [node.args[0].value]
    return []


def _sandbox_imports(path: Path, nodes) -> list[str]:
    """``file:line imports name`` for each statement that imports from the sandbox."""
    module = _module_name(path)
    hits = []
    for node in nodes:
        names = _imported(node, module, path.name == "__init__.py")
        bad = [n for n in names if n == SANDBOX or n.startswith(SANDBOX + ".")]
        if bad:
            hits.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {bad[-1]}")
    return hits


def test_production_code_imports_nothing_from_the_sandbox():
    modules = _production_modules()
    assert PACKAGE / "pipeline.py" in modules and PACKAGE / "sources" / "registry.py" in modules
    offending = [hit for p in modules for hit in _sandbox_imports(p, ast.walk(ast.parse(p.read_text())))]
    assert offending == [], "production code must not import revops.sandbox:\n" + "\n".join(offending)


def test_the_cli_imports_the_sandbox_only_inside_its_commands():
    tree = ast.parse(CLI.read_text())
    in_functions = {
        id(n)
        for f in ast.walk(tree)
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
        for n in ast.walk(f)
    }
    top_level = [n for n in ast.walk(tree) if id(n) not in in_functions]
    assert _sandbox_imports(CLI, top_level) == []


def test_the_check_sees_every_kind_of_import(tmp_path):
    """The checker itself: absolute, from-, relative and dynamic imports are all caught."""
    source = (
        "import revops.sandbox.world\n"
        "from revops.sandbox import truth\n"
        "from . import sandbox\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from revops.sandbox.server import SandboxApp\n"
        "def f():\n    import importlib\n    importlib.import_module('revops.sandbox.registry')\n"
    )
    path = PACKAGE / "x.py"  # never written: only its name places it in the package
    hits = _sandbox_imports(path, ast.walk(ast.parse(source)))
    assert [h.split(":")[1].split(" ")[0] for h in hits] == ["1", "2", "3", "6", "9"]


def test_no_tracked_file_names_a_development_machine_path():
    forbidden = ("/" + "work/", "api" + "-notes")
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode().split("\0")
    hits = []
    for name in filter(None, tracked):
        path = ROOT / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        for n, line in enumerate(text.splitlines(), 1):
            if any(f in line for f in forbidden):
                hits.append(f"{name}:{n}: {line.strip()[:100]}")
    assert hits == [], (
        "say what the reader needs in the repo's own words and link the vendor's docs:\n" + "\n".join(hits)
    )
