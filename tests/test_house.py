"""The house rules, read from the source of every product file (not a hand-written list):
imports run one way (blocks <- graph <- engine <- app <- cli <- launch.py), graph/ and engine/ never import
gradio, no product file grows past ~400 lines, every module says what lives in it."""
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = ["blocks", "graph", "engine", "app", "cli", "launch"]  # each may import only those before it
MAX_LINES = 400


def product_files() -> list[str]:
    files = ["launch.py"]
    for top in LAYERS[:-1]:
        for here, dirs, names in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if not d.startswith((".", "__"))]
            files += [os.path.relpath(os.path.join(here, n), ROOT) for n in names if n.endswith(".py")]
    return sorted(files)


def layer_of(path: str) -> int:
    return LAYERS.index(path.split(os.sep)[0].removesuffix(".py"))


def imported(tree: ast.AST, path: str) -> list[tuple[str, int]]:
    """(top-level name, line) of every absolute import, at any depth (function-level imports too)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name.split(".")[0], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.module.split(".")[0], node.lineno))
    return out


def test_the_product_files_are_found():
    files = product_files()
    assert "launch.py" in files and any(f.startswith("engine") for f in files) and len(files) > 50


@pytest.mark.parametrize("path", product_files())
def test_imports_run_one_way(path):
    tree = ast.parse(open(os.path.join(ROOT, path), encoding="utf-8").read(), path)
    mine = layer_of(path)
    wrong = [(name, line) for name, line in imported(tree, path)
             if name in LAYERS and LAYERS.index(name) > mine]
    assert not wrong, f"{path} imports a later layer: {wrong} (order: {' <- '.join(LAYERS)})"
    if LAYERS[mine] in ("blocks", "graph", "engine"):
        ui = [(name, line) for name, line in imported(tree, path) if name == "gradio"]
        assert not ui, f"{path} imports gradio ({ui}); the core must run without the UI"


@pytest.mark.parametrize("path", product_files())
def test_files_stay_small_and_say_what_they_hold(path):
    text = open(os.path.join(ROOT, path), encoding="utf-8").read()
    lines = text.count("\n")
    assert lines <= MAX_LINES, f"{path} has {lines} lines; split it by concern (house limit ~{MAX_LINES})"
    if text.strip():
        assert ast.get_docstring(ast.parse(text)), f"{path} has no module docstring saying what lives there"


def test_a_wrong_way_import_would_be_caught():
    """The checker itself: an engine module importing app is reported."""
    tree = ast.parse("def f():\n    from app.handlers import evaluate\n")
    assert [n for n, _ in imported(tree, "engine/x.py") if n in LAYERS and LAYERS.index(n) > 2] == ["app"]
