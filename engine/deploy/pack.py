"""The export pack: a zip with the model yaml, a standalone Python module holding exactly the blocks
the design uses (pure torch, no dependency on this project), and a README on registering them in a
YOLOv5 or Ultralytics checkout — the step every seed article walks its reader through by hand.

The module is assembled from this project's own block sources: each class, helper or module-level
value the design needs is found in the `blocks` package (ast), as its own module names it, taken
without its registry decorator and emitted after everything it refers to, below the imports (torch,
the standard library) they need. A module that would read a name it does not define is refused
(`undefined_names`), so a pack never ships a NameError.
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
from blocks.registry import EQUAL, INSIDE, OUT, SAME, SUM
from graph.resolve import LayerGraph

# Yaml names (aliases included) of the blocks YOLOv5 / Ultralytics already have, as their registry
# entries say (`BlockInfo.upstream`): nothing to register. `pack_readme` asks each entry itself.
STOCK = frozenset(key for key, info in blocks.REGISTRY.items() if info.upstream)
HEADER = '''"""Blocks for the model {name}, written out by YOLO Lite Designer (MIT licence).

Pure PyTorch: copy this file next to your YOLOv5 `models/common.py` or Ultralytics
`ultralytics/nn/modules/`, import the classes the README names, and register them as it says.
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


def _names_used(node: ast.AST) -> set[str]:
    """The names a top-level definition needs when the module runs and its objects are used; its
    decorators (our registry's) are not carried, so not looked at."""
    if isinstance(node, ast.ClassDef):
        parts = [*node.bases, *node.keywords, *node.body]
    elif isinstance(node, ast.FunctionDef):
        parts = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None), *node.body]
    else:  # an assignment; an annotation's names too, so that the module reads clean
        parts = [p for p in (node.value, getattr(node, "annotation", None)) if p is not None]
    return {n.id for part in parts for n in ast.walk(part) if isinstance(n, ast.Name)}


def _text(source: str, node: ast.AST) -> str:
    lines = source.splitlines()
    return "\n".join(lines[node.lineno - 1: node.end_lineno])  # from `class` / `def`: no decorators


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
    return read - defined - set(dir(builtins))


def standalone_module(wanted: list, model_name: str = "model") -> str:
    """The pack's module: every class or function in `wanted` (objects, or names), and everything
    they refer to — our definitions in dependency order, with their decorators left out, and the
    imports (torch, the standard library) they need. Refuses to write a module that reads a name it
    does not define, or that would hold two different definitions of one name."""
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
        for dep in sorted(_names_used(node)):
            visit(module, dep, stack + (key,))
        if not any(d[:2] == (module, name) for d in order):
            order.append((module, name, _text(source, node)))

    for w in wanted:
        visit(*_start(w))
    names = [name for _, name, _ in order]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"the pack would define {', '.join(twice)} twice (in different block modules)")
    body = "\n\n\n".join(text for *_, text in order)
    head = sorted(i for i in imports | BASE_IMPORTS if i.startswith("import ")) + sorted(
        i for i in imports | BASE_IMPORTS if i.startswith("from "))
    text = HEADER.format(name=model_name) + "\n".join(head) + "\n\n\n" + body + "\n"
    missing = undefined_names(text)
    if missing:
        raise ValueError(f"the pack's module would read names it does not define: {', '.join(sorted(missing))}")
    return text


def _register_note(info) -> str:
    if info.channels == OUT:
        rule = "its args[0] is the output channels: add it to the tuple of modules whose c1, c2 = ch[f], args[0]"
        if info.repeat == INSIDE:
            rule += ", and to the tuple that inserts n as args[2] (n passed inside)"
    elif info.channels == SAME:
        rule = "output channels = input channels" + (" (pass c1 first: args = [ch[f], *args])" if info.takes_c1 else "")
    elif info.channels == EQUAL:
        rule = "element-wise on equal inputs: c2 = ch[f[0]] (YOLOv5-Lite writes sum(ch[x] for x in f) // 2)"
    elif info.channels == SUM:
        rule = "concatenates: c2 = sum(ch[x] for x in f)"
    else:
        rule = "the detection head"
    return f"- `{info.name}` ({info.source}): {rule}."


def pack_readme(graph: LayerGraph, module_file: str) -> str:
    used = sorted({node.module for node in graph.layers})
    custom = [info for info in map(blocks.get_block, used) if not info.upstream]
    lines = [f"# {graph.spec.name}: export pack", "",
             f"- `model.yaml`: the model ({graph.spec.dialect} dialect, {graph.spec.nc} classes).",
             f"- `{module_file}`: every block the model uses, in plain PyTorch.", ""]
    if not custom:
        lines += ["Every block in this model is stock YOLOv5 / Ultralytics: train `model.yaml` as it is."]
        return "\n".join(lines) + "\n"
    names = ", ".join(b.name for b in custom)
    lines += ["## Register the custom blocks", "",
              f"The model uses {len(custom)} block(s) that YOLOv5 / Ultralytics do not have: {names}.", "",
              "- YOLOv5: put the file in `models/` and add `from models.yolo_lite_blocks import *` to",
              "  `models/yolo.py`.",
              "- Ultralytics: put the file in `ultralytics/nn/modules/` and import the classes in",
              "  `ultralytics/nn/tasks.py`.", "",
              "Then teach `parse_model` (in either) each block's channel rule:", ""]
    lines += [_register_note(b) for b in custom]
    lines += ["", "Then `python train.py --cfg model.yaml` (YOLOv5) or `YOLO('model.yaml').train(...)`",
              "(Ultralytics) builds the same model this designer counted."]
    return "\n".join(lines) + "\n"


def export_pack(graph: LayerGraph, yaml_text: str) -> bytes:
    """The zip as bytes: model.yaml, yolo_lite_blocks.py, README.md."""
    makers = {f for node in graph.layers for f in (node.info.cls, node.info.build)
              if f is not None and f.__module__.split(".")[0] != "torch"}
    module = standalone_module(sorted(makers, key=lambda f: (f.__name__, f.__module__)), graph.spec.name)
    compile(module, "yolo_lite_blocks.py", "exec")  # never ship a module that does not even parse
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("model.yaml", yaml_text)
        z.writestr("yolo_lite_blocks.py", module)
        z.writestr("README.md", pack_readme(graph, "yolo_lite_blocks.py"))
    return buf.getvalue()
