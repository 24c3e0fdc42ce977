"""The code's layout: no import cycles among the product's modules (every import counted, also the
ones inside functions), and nothing in bench/ imports tests/."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, known: Set[str]) -> Set[str]:
    """The project modules `path` imports (a `from package import module` counts the module)."""
    found: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: List[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def graph(folder: str) -> Dict[str, Set[str]]:
    files = {module_name(p): p for p in (ROOT / folder).rglob("*.py")}
    known = set(files)
    # a package's __init__ is not an edge to its own modules
    return {m: {i for i in imports(p, known) if i != m and not m.startswith(i + ".")} for m, p in files.items()}


def cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def test_no_import_cycle_in_the_product():
    assert cycles(graph("bot")) == []


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_bench_does_not_import_the_tests():
    for path in (ROOT / "bench").rglob("*.py"):
        assert not {i for i in imports(path, {"tests"})}, path


def test_nothing_in_the_product_reaches_up_into_the_actions():
    edges = graph("bot")
    up = {(m, i) for m, targets in edges.items() if not m.startswith("bot.actions") for i in targets}
    assert {(m, i) for m, i in up if i.startswith("bot.actions")} == set()


def test_the_progress_and_rehearsal_packages_import_no_rasa_at_import_time():
    for path in [*(ROOT / "bot" / "progress").glob("*.py"), *(ROOT / "bot" / "rehearsal").glob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in top if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n.startswith(("rasa", "rasa_sdk", "bot.actions"))], path


# What each package may import (README, "Where things are"): arrows go one way, from the Rasa
# side (actions, channels, stores) down to the parts that know nothing of Rasa's processes.
ALLOWED = {
    "bot.content": set(),
    "bot.progress": set(),
    "bot.rasa_ext": {"bot.content"},
    "bot.coaching": {"bot.content"},
    "bot.nlu": {"bot.progress"},
    "bot.safety": {"bot.nlu"},
    "bot.rehearsal": {"bot.content", "bot.nlu", "bot.safety"},
    "bot.web": {"bot.content"},
    "bot.channels": {"bot.content", "bot.rasa_ext", "bot.safety"},
    "bot.stores": {"bot.progress", "bot.rasa_ext"},
    "bot.actions": {"bot.coaching", "bot.content", "bot.progress", "bot.rehearsal", "bot.safety"},
}


def test_each_package_imports_only_what_it_may():
    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    found: Dict[str, Set[str]] = {}
    for module, targets in graph("bot").items():
        for target in targets:
            if package(target) != package(module):
                found.setdefault(package(module), set()).add(package(target))
    assert set(found) <= set(ALLOWED), set(found) - set(ALLOWED)
    assert {p: t - ALLOWED[p] for p, t in found.items() if t - ALLOWED[p]} == {}
