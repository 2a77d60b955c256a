"""The core loads no console toolkit, no module of uso_tui uses another module's private names, and
no console text gives a line break of its own to plain() or cell()."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import uso_tui

PACKAGE = Path(uso_tui.__file__).parent
CORE = ("uso_tui.domain", "uso_tui.store", "uso_tui.iris", "uso_tui.sync")


def test_importing_the_core_loads_no_textual_or_rich():
    # A fresh interpreter: this one may already hold textual from other tests. httpx imports its
    # own command line (click, rich) whenever click is installed, as the test extra does through
    # import-linter but an operator's install does not: blocked here, as it is there.
    code = (
        "import importlib, pkgutil, sys\n"
        "sys.modules['httpx._main'] = None\n"
        f"for name in {CORE!r}:\n"
        "    package = importlib.import_module(name)\n"
        "    for info in pkgutil.walk_packages(package.__path__, name + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "print(sorted(m for m in ('textual', 'rich') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, here: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = here.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses(path: Path, source: str | None = None) -> list[str]:
    """Where the module at `path` (its text, or `source`) names another uso_tui module's
    `_private` name: `from uso_tui.x import _name`, or `x._name` on an imported uso_tui module."""
    here = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    is_package = path.name == "__init__.py"
    found: list[tuple[int, str]] = []
    modules = set()  # local names bound to a uso_tui module
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("uso_tui"):
                    modules.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, here, is_package)
            if not source.startswith("uso_tui"):
                continue
            for alias in node.names:
                if _private(alias.name) and source != here:
                    found.append((node.lineno, f"imports {source}.{alias.name}"))
                # `from uso_tui.sync import runner` binds a module: its attributes count too
                if not _private(alias.name) and _is_module(f"{source}.{alias.name}"):
                    modules.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in modules:
                found.append((node.lineno, f"uses {ast.unparse(node)}"))
    return [f"{here}:{line} {use}" for line, use in sorted(found)]


def _is_module(dotted: str) -> bool:
    relative = Path(*dotted.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").exists() or (PACKAGE / relative).is_dir()


def test_no_module_uses_another_modules_private_names():
    found = [use for path in sorted(PACKAGE.rglob("*.py")) for use in private_uses(path)]
    assert found == []


def test_the_check_sees_both_kinds_of_use():
    source = (
        "from uso_tui.sync.runner import _Progress\n"
        "from .actions import _put\n"
        "from uso_tui.sync import runner\n"
        "import uso_tui.sync.batch as batch\n"
        "runner._fetch_all()\nbatch._error_line\nrunner.run_school\n"
    )
    found = private_uses(PACKAGE / "sync" / "probe.py", source)
    assert [use.split(" ", 1)[1] for use in found] == [
        "imports uso_tui.sync.runner._Progress",
        "imports uso_tui.sync.actions._put",
        "uses runner._fetch_all",
        "uses batch._error_line",
    ]


def test_the_store_errors_are_a_leaf():
    # every store module may import them without importing the store's API and implementation
    tree = ast.parse((PACKAGE / "store" / "errors.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert {name for name in imported if name and name.startswith("uso_tui.")} == {
        "uso_tui.domain.errors"
    }


def test_no_console_text_gives_its_own_line_break_to_plain_or_cell():
    """plain() and cell() show a line break as a symbol (names from the MIS are literal): a line
    break of the console's own must be appended beside them, not inside (it was shown as ␊ in
    the request form's list of accounts elsewhere)."""
    found = []
    for path in sorted((PACKAGE / "tui").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("plain", "cell"):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Constant) and "\n" in str(sub.value):
                        found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert found == []
