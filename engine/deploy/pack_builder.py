"""The export pack's layer builder, written for one design: the runtime of engine/deploy/pack_runtime.py
(shipped as source after the blocks) with its RULES table filled in from the block registry.

Each yaml name the design uses gets one row, read off its `BlockInfo` (blocks/registry.py): the
channel rule, the repeat rule, whether it takes c1, its maker in the pack (or torch's own class), the
tools that have a class of that name, its scale rule and whether it clears upstream's `legacy`
flag. The builder in the pack is generic: a new block needs a registry entry, never an edit here.
"""
from __future__ import annotations

import ast
import importlib
import inspect

import torch.nn as nn

import blocks
from blocks.torchnn import ACTIVATIONS
from graph.resolve import LayerGraph

from . import pack_runtime


def _maker_expr(maker) -> tuple[str, object | None]:
    """How the pack's module names a maker: `nn.Upsample` for torch's own layers, else the name of
    the class or function it carries (returned, so the module defines it)."""
    if maker.__module__.split(".")[0] == "torch":
        if getattr(nn, maker.__name__, None) is not maker:
            raise ValueError(f"{maker.__module__}.{maker.__name__} is not a torch.nn layer the pack can name")
        return f"nn.{maker.__name__}", None
    return maker.__name__, maker


def _rule_text(info) -> tuple[str, list]:
    maker, carried = _maker_expr(info.build or info.cls)
    fields = [repr(info.channels), repr(info.repeat), maker, repr(tuple(info.upstream))]
    wanted = [carried] if carried is not None else []
    if info.takes_c1:
        fields.append("takes_c1=True")
    if info.scale_rule is not None:
        fields.append(f"scale_rule={info.scale_rule.__name__}")
        wanted.append(info.scale_rule)
    if info.clears_legacy:
        fields.append("clears_legacy=True")
    fields.append(f"name={info.name!r}")
    return f"Rule({', '.join(fields)})", wanted


def rules(graph: LayerGraph) -> tuple[str, list]:
    """(the RULES assignment for the design's yaml names, as written and as registered; the objects it
    refers to)."""
    dialect = graph.spec.dialect
    names = {lay.module: blocks.get_block(lay.module, dialect) for lay in graph.spec.layers}
    names.update({info.name: info for info in list(names.values())})
    rows, wanted = [], []
    for name in sorted(names):
        text, needs = _rule_text(names[name])
        rows.append(f"    {name!r}: {text},")
        wanted += [w for w in needs if w not in wanted]
    return "RULES: dict[str, Rule] = {\n" + "\n".join(rows) + "\n}", wanted


def runtime(graph: LayerGraph) -> tuple[list[str], list, str]:
    """(the runtime's import statements, the `blocks` objects it and its table use, which the pack
    carries as source; its code, everything after its imports, with RULES and PACK written for this
    design)."""
    source = inspect.getsource(pack_runtime)
    lines = source.splitlines()
    table, wanted = rules(graph)
    filled = {"RULES": table, "PACK": "PACK = " + repr({"model": graph.spec.name, "dialect": graph.spec.dialect}),
              "ACTIVATION_NAMES": f"ACTIVATION_NAMES = {tuple(ACTIVATIONS)!r}"}
    imports, after, places = [], 0, []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            after = node.end_lineno
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                continue
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "blocks":
                module = importlib.import_module(node.module)
                wanted += [getattr(module, alias.name) for alias in node.names]
            else:
                imports.append(ast.get_source_segment(source, node))
            continue
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        if isinstance(target, ast.Name) and target.id in filled:
            places.append((node.lineno, node.end_lineno, filled.pop(target.id)))
    if filled:
        raise AssertionError(f"pack_runtime.py lost its placeholders {sorted(filled)}")
    for first, last, text in sorted(places, reverse=True):
        lines[first - 1: last] = text.splitlines()
    return imports, wanted, "\n".join(lines[after:]).strip("\n")
