"""The export pack: a zip with the model yaml, a standalone Python module holding exactly the blocks
the design uses (pure torch, no dependency on this project), and a README on registering them in a
YOLOv5 or Ultralytics checkout — the step every seed article walks its reader through by hand.

The module is assembled from this project's own block sources: each class or helper the design needs
is found by name in the `blocks` package (ast), taken without its registry decorator, and emitted
after everything it refers to.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import io
import pkgutil
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
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

'''


def _block_modules() -> list[str]:
    """The modules that define blocks: every family of `blocks`, and the module of any block
    registered from elsewhere (torch's own layers excepted: upstream has them)."""
    names = [f"blocks.{m.name}" for m in pkgutil.iter_modules(blocks.__path__)]
    for info in blocks.REGISTRY.values():
        module = getattr(info.cls, "__module__", "") or ""
        if module.split(".")[0] != "torch" and module not in names:
            names.append(module)
    return names


def _definitions() -> dict[str, tuple[str, ast.AST]]:
    """name -> (source text of its module, its ast node) for every top-level def of a block module."""
    table = {}
    for name in _block_modules():
        module = sys.modules.get(name) or importlib.import_module(name)
        source = inspect.getsource(module)
        for node in ast.parse(source).body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                table[node.name] = (source, node)
    return table


def _names_used(node: ast.AST) -> set[str]:
    parts = list(getattr(node, "bases", [])) + list(node.body)
    if isinstance(node, ast.FunctionDef):
        parts += node.args.defaults
    return {n.id for part in parts for n in ast.walk(part) if isinstance(n, ast.Name)}


def _text(source: str, node: ast.AST) -> str:
    lines = source.splitlines()
    return "\n".join(lines[node.lineno - 1: node.end_lineno])  # from `class` / `def`: no decorators


def standalone_module(class_names: list[str], model_name: str = "model") -> str:
    table = _definitions()
    order: list[str] = []

    def visit(name: str, stack: tuple = ()):
        if name in order or name in stack or name not in table:
            return
        for dep in sorted(_names_used(table[name][1])):
            visit(dep, stack + (name,))
        order.append(name)

    for name in class_names:
        visit(name)
    body = "\n\n\n".join(_text(*table[name]) for name in order)
    return HEADER.format(name=model_name) + "\n" + body + "\n"


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
    classes = sorted({f.__name__ for node in graph.layers for f in (node.info.cls, node.info.build) if f})
    module = standalone_module(classes, graph.spec.name)
    compile(module, "yolo_lite_blocks.py", "exec")  # never ship a module that does not even parse
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("model.yaml", yaml_text)
        z.writestr("yolo_lite_blocks.py", module)
        z.writestr("README.md", pack_readme(graph, "yolo_lite_blocks.py"))
    return buf.getvalue()
