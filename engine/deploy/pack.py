"""The export pack: a zip with the model yaml, a standalone Python module holding exactly the blocks
the design uses (pure torch, no dependency on this project) followed by a layer builder and
`register()` (engine/deploy/pack_builder.py), and a README. After `yolo_lite_blocks.register()`,
Ultralytics 8.4's `YOLO("model.yaml")` or YOLOv5 7.0's `Model("model.yaml")` builds the design and
their own trainers train it, no edit to either: the step every seed article walks its reader through
by hand.

The module is assembled from this project's own block sources: each class, helper or module-level
value the design needs is found in the `blocks` package (ast), as its own module names it, taken
without its registry decorator (other decorators stay) and emitted after everything it refers to,
below the imports (torch, the standard library) they need. A module that would read a name it does
not define is refused (`undefined_names`), so a pack never ships a NameError.
"""
from __future__ import annotations

import ast
import builtins
import functools
import importlib
import importlib.util
import inspect
import io
import pkgutil
import symtable
import sys
import zipfile

import blocks
from graph.counts import count
from graph.resolve import LayerGraph

from . import pack_builder, pack_runtime

# Yaml names (aliases included) of the blocks YOLOv5 / Ultralytics already have, as their registry
# entries say (`BlockInfo.upstream`): nothing to register. `pack_readme` asks each entry itself.
STOCK = frozenset(key for key, info in blocks.REGISTRY.items() if info.upstream)
HEADER = '''"""Blocks for the model {name}, written out by YOLO Lite Designer (MIT licence).

Pure PyTorch, and a layer builder for Ultralytics 8.4 and YOLOv5 7.0, which they use once registered
(no edit to either; README.md says more):

    import yolo_lite_blocks
    yolo_lite_blocks.register()  # then YOLO("model.yaml") / Model("model.yaml") builds this model

or, to run a tool's own script with the blocks registered (YOLOv5's train.py, say):

    python yolo_lite_blocks.py train.py --cfg model.yaml ...
"""
from __future__ import annotations

'''
BASE_IMPORTS = frozenset({"import math", "import torch", "import torch.nn as nn", "import torch.nn.functional as F"})


def _block_modules() -> list[str]:
    """The modules that define blocks: every family of `blocks`, and the module of any block
    registered from elsewhere (torch's own layers excepted: upstream has them)."""
    names = [f"blocks.{m.name}" for m in pkgutil.iter_modules(blocks.__path__)]
    for info in blocks.REGISTRY.values():
        module = getattr(info.cls, "__module__", "") or ""
        if module.split(".")[0] != "torch" and module not in names:
            names.append(module)
    return names


# What a name means at the top level of a block module: ("def", source, node) for a class, function
# or assignment there; ("from", module, name) for one imported from another block module (followed);
# ("import", statement) for one imported from elsewhere (torch, the standard library).
@functools.lru_cache(maxsize=None)
def _namespace(module_name: str) -> dict[str, tuple]:
    module = sys.modules.get(module_name) or importlib.import_module(module_name)
    source = inspect.getsource(module)
    package = module_name if hasattr(module, "__path__") else module_name.rpartition(".")[0]
    table: dict[str, tuple] = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            table[node.name] = ("def", source, node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    table[t.id] = ("def", source, node)
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            ours = node.level > 0 or base.split(".")[0] == "blocks"  # another block module: followed
            for alias in node.names:
                bound = alias.asname or alias.name
                table[bound] = (("from", base, alias.name) if ours else
                                ("import", f"from {base} import {alias.name}" + (f" as {bound}" if alias.asname else "")))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                table[bound] = ("import", f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else ""))
    return table


def _lookup(module: str, name: str) -> tuple | None:
    """Where `name`, as `module` uses it, is defined: ("def", module, name, source, node) or
    ("import", statement); None for a builtin or a local."""
    seen = set()
    while (module, name) not in seen:
        seen.add((module, name))
        entry = _namespace(module).get(name)
        if entry is None:
            return None
        if entry[0] == "from":
            module, name = entry[1], entry[2]
            continue
        return entry if entry[0] == "import" else ("def", module, name, entry[1], entry[2])
    return None


def _registration(module: str, decorator: ast.expr) -> bool:
    """Is the decorator our registry's `register(...)` (left out of the pack)?"""
    func = decorator
    while isinstance(func, ast.Call):
        func = func.func
    entry = _lookup(module, func.id) if isinstance(func, ast.Name) else None
    return entry is not None and entry[0] == "def" and entry[1:3] == ("blocks.registry", "register")


def _kept_decorators(module: str, node: ast.AST) -> list[ast.expr]:
    return [d for d in getattr(node, "decorator_list", []) if not _registration(module, d)]


def _names_used(module: str, node: ast.AST) -> set[str]:
    """The names a top-level definition needs when the module runs and its objects are used: its
    decorators but our registry's (not carried), its bases, defaults and body."""
    if isinstance(node, ast.ClassDef):
        parts = [*node.bases, *node.keywords, *node.body]
    elif isinstance(node, ast.FunctionDef):
        parts = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None), *node.body]
    else:  # an assignment; an annotation's names too, so that the module reads clean
        parts = [p for p in (node.value, getattr(node, "annotation", None)) if p is not None]
    parts += _kept_decorators(module, node)
    return {n.id for part in parts for n in ast.walk(part) if isinstance(n, ast.Name)}


def _text(module: str, source: str, node: ast.AST) -> str:
    lines = source.splitlines()
    kept = [f"@{ast.get_source_segment(source, d)}" for d in _kept_decorators(module, node)]
    return "\n".join(kept + lines[node.lineno - 1: node.end_lineno])  # `class` / `def` on: its own line


def _defined(node: ast.AST) -> list[str]:
    """The names a top-level statement defines (a class, a function, assigned names)."""
    if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return [t.id for t in targets if isinstance(t, ast.Name)]


def _start(wanted) -> tuple[str, str]:
    """A class or function of a block module, or its name (looked for in every block module)."""
    if not isinstance(wanted, str):
        return wanted.__module__, wanted.__name__
    for module in _block_modules():
        entry = _namespace(module).get(wanted)
        if entry is not None and entry[0] == "def":
            return module, wanted
    raise KeyError(f"no block module defines {wanted!r}")


def undefined_names(text: str) -> set[str]:
    """Global names a module's code reads that it neither defines nor imports, nor are builtins."""
    top = symtable.symtable(text, "pack", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    read: set[str] = set()
    tables = [top]
    while tables:
        t = tables.pop()
        read |= {s.get_name() for s in t.get_symbols()  # (is_global() is fooled by a function named `top`)
                 if s.is_referenced() and (t is top or not (s.is_local() or s.is_free()) or s.is_declared_global())}
        tables += t.get_children()
    return read - defined - set(dir(builtins)) - {"__file__"}  # a module's own, set by import


def standalone_module(wanted: list, model_name: str = "model", tail: str = "", tail_imports: list = ()) -> str:
    """The pack's module: every class or function in `wanted` (objects, or names), and everything
    they refer to — our definitions in dependency order, with the registry's decorators left out,
    and the imports (torch, the standard library) they need; then `tail` (code that uses them) with
    its imports. Refuses to write a module that reads a name it does not define, or that would hold
    two different definitions of one name."""
    order: list[tuple] = []
    imports: set[str] = set()

    def visit(module: str, name: str, stack: tuple = ()):
        key = (module, name)
        if key in stack or any(d[:2] == key for d in order):
            return
        entry = _lookup(module, name)
        if entry is None:
            return
        if entry[0] == "import":
            imports.add(entry[1])
            return
        _, module, name, source, node = entry
        for dep in sorted(_names_used(module, node)):
            visit(module, dep, stack + (key,))
        if not any(d[:2] == (module, name) for d in order):
            order.append((module, name, _text(module, source, node)))

    for w in wanted:
        visit(*_start(w))
    names = [name for _, name, _ in order] + [n for node in ast.parse(tail).body for n in _defined(node)]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"the pack would define {', '.join(twice)} twice (in different block modules or the builder)")
    body = "\n\n\n".join([text for *_, text in order] + ([tail] if tail else []))
    every = imports | BASE_IMPORTS | set(tail_imports)
    head = sorted(i for i in every if i.startswith("import ")) + sorted(i for i in every if i.startswith("from "))
    text = HEADER.format(name=model_name) + "\n".join(head) + "\n\n\n" + body + "\n"
    missing = undefined_names(text)
    if missing:
        raise ValueError(f"the pack's module would read names it does not define: {', '.join(sorted(missing))}")
    return text


TOOLS = {"ultralytics": "Ultralytics 8.4", "yolov5": "YOLOv5 7.0"}  # the tool that trains each dialect
USE = {
    "ultralytics": ["```python", "import yolo_lite_blocks",
                    "yolo_lite_blocks.register()  # Ultralytics now builds these blocks",
                    "", "from ultralytics import YOLO", "", "model = YOLO(\"model.yaml\")  # {params:,} parameters",
                    "model.train(data=\"data.yaml\", epochs=100, imgsz=640)", "```"],
    "yolov5": ["From a YOLOv5 7.0 checkout, the pack unzipped in `../pack` (the module registers itself, then runs",
               "`train.py` unedited):", "", "```bash",
               "python ../pack/yolo_lite_blocks.py train.py --cfg ../pack/model.yaml --data data.yaml --weights ''",
               "```", "", "(with the `yolov5` pip package, give the `train.py` in its package folder), or in Python:",
               "`import yolo_lite_blocks; yolo_lite_blocks.register()`, then",
               "`from models.yolo import Model; Model(\"model.yaml\")` ({params:,} parameters)."],
}


def pack_readme(graph: LayerGraph, module_file: str) -> str:
    tool = graph.spec.dialect
    used = sorted({node.module for node in graph.layers})
    custom = [info for info in (blocks.get_block(m, tool) for m in used) if tool not in info.upstream]
    lines = [f"# {graph.spec.name}: export pack", "",
             f"- `model.yaml`: the model ({tool} dialect, {graph.spec.nc} classes).",
             f"- `{module_file}`: every block the model uses, in plain PyTorch, and a layer builder for "
             f"{TOOLS[tool]}.", ""]
    if not custom:
        lines += [f"Every block in this model is stock {TOOLS[tool]}: train `model.yaml` as it is."]
        return "\n".join(lines) + "\n"
    params = count(graph).params
    lines += [f"## Train it in {TOOLS[tool]}", "", *(ln.format(params=params) for ln in USE[tool]), "",
              f"`register()` makes {TOOLS[tool]}'s `parse_model` (the function its model class calls) build",
              "any yaml that uses these blocks, with its own modules for its stock blocks (so its loss, fuse",
              "and export know them) and this file's for the rest; other yamls build as before. Keep",
              f"`{module_file}` importable wherever you load the trained weights: they name its classes.", "",
              f"## Blocks the pack supplies ({TOOLS[tool]} has no such block)", ""]
    lines += [f"- `{b.name}` ({b.source})" for b in custom]
    v = pack_runtime.CHECKED_WITH
    lines += ["", "## Checked with", "",
              f"Ultralytics {v['ultralytics']} and YOLOv5 {v['yolov5']} (its 7.0.14 pip package), torch 2.13 on CPU:",
              "for every preset of YOLO Lite Designer that uses blocks of its own, the tool built the model",
              "with the parameter count the designer prints, computed the designer's outputs from its weights",
              "(fused too), trained it for an epoch with its own trainer and loaded the trained weights back.",
              "With another version `register()` warns. Not covered: multi-GPU (DDP) training, whose fresh",
              "processes do not call `register()`."]
    return "\n".join(lines) + "\n"


def export_pack(graph: LayerGraph, yaml_text: str) -> bytes:
    """The zip as bytes: model.yaml, yolo_lite_blocks.py, README.md."""
    makers = {f for node in graph.layers for f in (node.info.cls, node.info.build)
              if f is not None and f.__module__.split(".")[0] != "torch"}
    imports, needed, code = pack_builder.runtime(graph)
    wanted = sorted(makers, key=lambda f: (f.__name__, f.__module__)) + [w for w in needed if w not in makers]
    module = standalone_module(wanted, graph.spec.name, tail=code, tail_imports=imports)
    compile(module, "yolo_lite_blocks.py", "exec")  # never ship a module that does not even parse
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("model.yaml", yaml_text)
        z.writestr("yolo_lite_blocks.py", module)
        z.writestr("README.md", pack_readme(graph, "yolo_lite_blocks.py"))
    return buf.getvalue()
