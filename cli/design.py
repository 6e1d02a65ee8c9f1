"""The design commands of `launch.py`: catalog, compose, info (with --check and --latency), edit, and the
checks they share (a name that is neither a file nor a preset; building and running a design once).
Each `cmd_*` takes the parsed arguments and returns the exit status; launch.py maps the errors it knows
to one line and status 2."""
from __future__ import annotations

import argparse
import json
import os
import sys


def cmd_catalog(a) -> int:
    from graph.catalog import catalog, catalog_text

    print(json.dumps(catalog(), indent=1) if a.json else catalog_text())
    return 0


def cmd_compose(a) -> int:
    from graph.source import source

    design = source(picks={"backbone": a.backbone, "neck": a.neck, "head": a.head}, scale=a.scale, nc=a.nc)
    text = design.yaml(imgsz=a.imgsz)  # resolved for its stride comments: one that does not resolve is never written
    if a.output:
        with open(a.output, "w", encoding="utf-8") as fh:
            fh.write(text)
        print(f"wrote {a.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def not_file_nor_preset(name: str) -> str:
    """'' if `name` is a file or a preset; else one line saying it is neither, with the presets whose
    names are close to it (difflib) and all of them."""
    import difflib

    from graph.templates import presets

    names = list(presets())
    if os.path.exists(name) or name in names:
        return ""
    close = difflib.get_close_matches(os.path.splitext(os.path.basename(name))[0], names, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join([', '.join(close[:-1]), close[-1]] if len(close) > 1 else close)}?" \
        if close else " No preset has a name close to it."
    return (f"cannot read {name}: it is neither a file nor a preset name.{hint} "
            f"Presets: {', '.join(names)} (see `launch.py catalog`).")


def cmd_info(a) -> int:
    from engine.deploy.measure import latency_of, latency_text
    from graph.counts import count
    from graph.report import info_dict, info_text
    from graph.resolve import resolve
    from graph.source import source

    unknown = not_file_nor_preset(a.file)
    if unknown:
        print(f"error: {unknown}", file=sys.stderr)
        return 2
    design = source(a.file, scale=a.scale, nc=a.nc)  # a yaml file, or the name of a preset
    notes = list(design.notes)
    graph = resolve(design.spec, a.imgsz)
    counts = count(graph)
    info = info_dict(graph, counts, notes)
    if a.check:
        info["check"] = run_check(graph)
    info.update(latency_of(a, design, info["per_layer"]))  # --latency: {"latency": timed here, per layer} else {}
    if a.json:
        print(json.dumps(info, indent=1))
    else:
        print(info_text(graph, counts, notes) + latency_text(info.get("latency")))
        if a.check:
            c = info["check"]
            print(f"check: built {c['params']:,} parameters; forward at {a.imgsz}: eval output "
                  f"{tuple(c['output_shape'])}, training maps {[tuple(s) for s in c['train_shapes']]}")
    return 0


class _Ordered(argparse.Action):
    """Appends (option, value) to `edits`, so edits apply in command-line order; --section and
    --where are recorded too and apply to the --swap options after them."""

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.edits = [*(getattr(namespace, "edits", None) or []), (self.dest, values)]


def cmd_edit(a) -> int:
    from graph import edit
    from graph.counts import count
    from graph.errors import SpecError
    from graph.recipes import list_recipes
    from graph.resolve import resolve
    from graph.source import Source, source

    if a.list_recipes:
        for name, text in list_recipes():
            print(f"{name:<18} {text}")
        return 0
    if not a.file or not a.output:
        raise SpecError("edit needs a SOURCE (yaml or preset) and -o OUT.yaml")
    design = source(a.file, nc=a.nc)
    spec = design.spec
    before = count(resolve(spec, a.imgsz))
    notes = list(design.notes)
    spec, more = edit.apply(spec, a.edits or [])  # every edit, or a SpecError and nothing written
    notes += more
    graph = resolve(spec, a.imgsz)  # an edit that leaves a model that does not resolve is never written
    after = count(graph)
    text = Source(spec, title=f"{spec.name}: edited by YOLO Lite Designer").dump(graph)
    with open(a.output, "w", encoding="utf-8") as fh:
        fh.write(text)
    for n in notes:
        print(f"note: {n}")
    print(f"before: {before.params:,} parameters, {before.gflops:.2f} GFLOPs")
    print(f"after:  {after.params:,} parameters, {after.gflops:.2f} GFLOPs")
    print(f"wrote {a.output}", file=sys.stderr)
    return 0


def run_check(graph) -> dict:
    import torch

    from graph.model import build, count_params

    model = build(graph).eval()
    x = torch.zeros(1, graph.spec.ch, graph.imgsz, graph.imgsz)
    with torch.no_grad():
        y = model(x)
        model.train()
        maps = model(x)
    return {"params": count_params(model), "output_shape": list(y.shape),
            "train_shapes": [list(m.shape) for m in maps]}
