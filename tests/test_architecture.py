"""The import rules of docs/architecture.md, checked on the source (every import, also
those inside functions): layers import only downwards, and there are no cycles."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "serkit"

#: The layers, lowest first: a module may import its own layer and those below it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # ``serkit`` itself holds only the version and a lazy public API (import_module by name).
    ("foundation", ("serkit", "serkit.errors", "serkit.fileio", "serkit.registry", "serkit.workers", "serkit.worker_guard",
                    "serkit.progress",
                    "serkit.inputs", "serkit.rundir", "serkit.labels", "serkit.audio")),
    ("data", ("serkit.corpora", "serkit.splits")),
    ("features", ("serkit.features", "serkit.augmentation")),
    ("models", ("serkit.batching", "serkit.models")),
    ("evaluation", ("serkit.evaluation",)),
    ("inference", ("serkit.inference",)),
    ("training", ("serkit.training",)),
    ("front ends", ("serkit.server", "serkit.demo", "serkit.commands", "serkit.cli")),
)

#: (modules under, modules they must never reach, directly or through others)
FORBIDDEN = (
    ("serkit.evaluation", ("torch",)),
    ("serkit.inference", ("serkit.training",)),
    ("serkit.features", ("serkit.models",)),
    ("serkit.augmentation", ("serkit.models",)),
    ("serkit.corpora", ("serkit.features", "serkit.models")),
)


@cache
def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


@cache
def imports(module: str) -> frozenset[str]:
    """Every module ``module`` imports (serkit modules by their full name, others by top name)."""
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            # ``from serkit.x import y`` imports the module serkit.x.y when there is one.
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules() else base for a in node.names)
    return frozenset(_canonical(name) for name in found if _canonical(name) != module)


def _canonical(name: str) -> str:
    return name if name.startswith("serkit") and name in modules() else name.split(".")[0]


def layer_of(module: str) -> int:
    best = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                    best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    assert best is not None, f"{module} is in no layer of LAYERS; add it (and to docs/architecture.md)"
    return best[0]


def reachable(module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        for target in imports(todo.pop()):
            if target not in seen:
                seen.add(target)
                if target in modules():
                    todo.append(target)
    return seen


def under(prefix: str) -> list[str]:
    return [m for m in modules() if m == prefix or m.startswith(prefix + ".")]


@pytest.mark.parametrize("module", sorted(modules()))
def test_imports_go_down_the_layers(module):
    mine = layer_of(module)
    upward = sorted(t for t in imports(module) if t in modules() and layer_of(t) > mine)
    assert not upward, (f"{module} ({LAYERS[mine][0]}) imports from a higher layer: "
                        + ", ".join(f"{t} ({LAYERS[layer_of(t)][0]})" for t in upward))


@pytest.mark.parametrize(("prefix", "never"), FORBIDDEN)
def test_forbidden_imports(prefix, never):
    for module in under(prefix):
        bad = sorted(t for t in reachable(module) if any(t == n or t.startswith(n + ".") for n in never))
        assert not bad, f"{module} reaches {', '.join(bad)}"


def test_no_import_cycles():
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in (t for t in imports(v) if t in modules()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(modules()):
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checker_sees_function_level_imports():
    # serkit.inference.bundle imports torch only inside functions; a checker that missed
    # those would pass every rule above without looking.
    assert "torch" in imports("serkit.inference.bundle")
    assert layer_of("serkit.training.runner") > layer_of("serkit.inference.bundle")
