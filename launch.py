"""YOLO Lite Designer — the one entry point.

    python launch.py [--host H] [--port P] [--max-jobs N] [--disk-quota 10G] ...
                                          serve the designer on http://127.0.0.1:7860
    python launch.py catalog [--json]     blocks, backbones, necks, heads, presets
    python launch.py compose --backbone B --neck N --head H [--scale s] [--nc 80] [-o FILE]
    python launch.py info FILE|PRESET [--scale S] [--nc N] [--imgsz 640] [--json] [--check]
    python launch.py edit FILE|PRESET [--recipe R] [--swap OLD=NEW [--section S] [--where k=3,s=2]]
                          [--insert INDEX:ROW] [--delete INDEX] [--set INDEX:ARG=VALUE] -o OUT.yaml
                                          block-level edits, applied left to right (--list-recipes)
    python launch.py export CFG_OR_CHECKPOINT [--imgsz 640] [--dynamic] [--out model.onnx] [--pack x.zip]
    python launch.py predict --weights CFG_OR_CHECKPOINT --source IMAGE_OR_DIR [--conf] [--iou]
                             [--backend onnx|torch] [--save DIR] [--json]
    python launch.py train [--cfg F | --preset P | --backbone B --neck N --head H --scale S] [--data shapes]
                           [--epochs] [--imgsz] [--batch] [--device] [--events F.jsonl] [--resume last.pt]
    torchrun --nproc_per_node N launch.py train ...     (DistributedDataParallel)

Bad input prints one line naming the layer and the cause and exits with status 2.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
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
    if a.json:
        print(json.dumps(info, indent=1))
    else:
        print(info_text(graph, counts, notes))
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


def cmd_export(a) -> int:
    from engine.deploy.export import export_onnx
    from engine.loading import load_any

    loaded = load_any(a.weights, a.imgsz)
    out = a.out or os.path.splitext(os.path.basename(a.weights))[0] + ".onnx"
    if not loaded.trained:
        print(f"note: {a.weights} is a design, not a checkpoint: the weights are untrained", file=sys.stderr)
    result = export_onnx(loaded, out, a.imgsz, a.dynamic)
    if a.pack:
        from engine.deploy.pack import export_pack
        from graph.resolve import resolve
        from graph.source import source

        design = source(text=loaded.yaml, name=os.path.splitext(os.path.basename(out))[0])
        with open(a.pack, "wb") as fh:
            fh.write(export_pack(resolve(design.spec, result.imgsz), loaded.yaml))
    if a.json:
        print(json.dumps({**result.as_dict(), "pack": a.pack}, indent=1))
    else:
        print(result.summary())
        if a.pack:
            print(f"export pack: {a.pack}")
    return 0


def cmd_predict(a) -> int:
    from engine.deploy.run import predictors, run_images
    from engine.images import IMAGE_EXTS
    from graph.source import source

    if os.path.isdir(a.source):
        files = sorted(os.path.join(a.source, f) for f in os.listdir(a.source) if f.lower().endswith(IMAGE_EXTS))
        if not files:
            print(f"error: no images ({', '.join(IMAGE_EXTS)}) in {a.source}", file=sys.stderr)
            return 2
    else:
        files = [a.source]
    if a.weights.endswith((".pt", ".pth")):
        preds = predictors(source=a.weights, imgsz=a.imgsz)
    else:
        design = source(a.weights)  # a yaml or preset: an untrained design
        preds = predictors(yaml_text=design.yaml(imgsz=a.imgsz), imgsz=a.imgsz, name=design.spec.name)
    out = run_images(preds, files, a.conf, a.iou, a.backend)
    if a.save:
        os.makedirs(a.save, exist_ok=True)
        for r in out["results"]:
            r["saved"] = os.path.join(a.save, os.path.splitext(r["name"])[0] + ".jpg")
            r["image"].convert("RGB").save(r["saved"], quality=92)
    for err in out["errors"]:
        print(f"error: {err}", file=sys.stderr)
    if a.json:
        print(json.dumps({**out, "results": [{k: v for k, v in r.items() if k != "image"} for r in out["results"]]},
                         indent=1))
    else:
        if not out["trained"]:
            print("note: an untrained design: the boxes are meaningless, the timing is real")
        for r in out["results"]:
            found = ", ".join(f"{d['class_name']} {d['confidence']:.2f}" for d in r["detections"][:8])
            more = f" (+{len(r['detections']) - 8} more)" if len(r["detections"]) > 8 else ""
            print(f"{r['name']}: {len(r['detections'])} detections{': ' + found + more if found else ''}"
                  + (f" -> {r['saved']}" if a.save else ""))
        for backend, t in out["latency"].items():
            print(f"latency {backend:<5} pre {t['pre']:.1f} ms, inference {t['inference']:.1f} ms, "
                  f"post {t['post']:.1f} ms (median of 5 runs)")
    return 2 if out["errors"] else 0


def cmd_train(a) -> int:
    from engine.train.progress import JsonlWriter, ProgressPrinter
    from engine.train.trainer import DeviceError, Events, TrainConfig, Trainer, check_device

    config = TrainConfig.from_dict({k: v for k, v in vars(a).items() if v is not None})
    try:
        config.device = check_device(config.device)
    except DeviceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    events = Events()
    rank = int(os.environ.get("RANK", 0))
    if rank == 0:
        events.on("*", ProgressPrinter())
    if a.events:  # rank 0 writes FILE, the other ranks of a torchrun FILE.rank1, FILE.rank2, ...
        events.on("*", JsonlWriter(a.events if rank == 0 else f"{a.events}.rank{rank}"))
    trainer = Trainer(config, events)

    def stop(signum, frame):  # finish the batch, validate, write last.pt, then end
        trainer.stop_requested = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    trainer.fit()
    return 0


def server_options(a) -> dict:
    """launch.py's serve flags -> app/settings.py's Settings fields (ValueError on a bad size)."""
    from app.settings import parse_size

    opts = {"host": a.host, "port": a.port, "token": "" if a.no_auth else a.token,
            "allowed_hosts": tuple(h.lower() for h in a.allow_host), "disk_quota": parse_size(a.disk_quota),
            "max_file_size": parse_size(a.max_file_size), "cache_ttl_s": int(a.cache_hours * 3600),
            "data_roots": tuple(os.path.abspath(d) for d in a.data_root)}
    if a.max_jobs is not None:
        if a.max_jobs < 1:
            raise ValueError("--max-jobs must be at least 1")
        opts["max_jobs"] = a.max_jobs
    return opts


def cmd_serve(a) -> int:
    try:
        opts = server_options(a)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from app.main import serve

    serve(**opts)
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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="launch.py", description="YOLO Lite Designer")
    p.add_argument("--host", default="127.0.0.1", help="address to serve the app on (default 127.0.0.1); any other "
                   "than loopback requires the access token printed at start")
    p.add_argument("--port", type=int, default=7860, help="port to serve the app on (default 7860)")
    p.add_argument("--token", help="the access token to require (default: a random one when --host is not loopback)")
    p.add_argument("--no-auth", dest="no_auth", action="store_true", help="serve a non-loopback host without a token")
    p.add_argument("--allow-host", dest="allow_host", action="append", default=[], metavar="NAME",
                   help="also answer to this Host name (e.g. the machine's DNS name); repeatable")
    p.add_argument("--max-jobs", dest="max_jobs", type=int, help="training runs at a time, whole server "
                   "(default 1 on CPU, one per GPU)")
    p.add_argument("--disk-quota", dest="disk_quota", default="10G", help="room for runs/ and temp files together; "
                   "the oldest unpinned items are removed past it (default 10G)")
    p.add_argument("--max-file-size", dest="max_file_size", default="200M", help="largest upload (default 200M)")
    p.add_argument("--cache-hours", dest="cache_hours", type=float, default=6.0,
                   help="temp files (uploads, downloads, exports of ended sessions) are kept this long (default 6)")
    p.add_argument("--data-root", dest="data_root", action="append", default=[], metavar="DIR",
                   help="a folder the Train tab's 'data.yaml on the server' may read from; repeatable "
                   "(default: anywhere for a loopback server, nowhere otherwise)")
    sub = p.add_subparsers(dest="cmd")
    c = sub.add_parser("catalog", help="list blocks, backbones, necks, heads and presets")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_catalog)
    c = sub.add_parser("compose", help="write the yaml of a backbone + neck + head")
    c.add_argument("--backbone", required=True)
    c.add_argument("--neck", required=True)
    c.add_argument("--head", required=True)
    c.add_argument("--scale", default="s", help="n | s | m | l | x (default s)")
    c.add_argument("--nc", type=int, default=80, help="number of classes (default 80)")
    c.add_argument("--imgsz", type=int, default=640, help=argparse.SUPPRESS)
    c.add_argument("-o", "--output", help="file to write (default: stdout)")
    c.set_defaults(func=cmd_compose)
    c = sub.add_parser("info", help="layers, parameters and GFLOPs of a model yaml or preset")
    c.add_argument("file", help="model yaml, or a preset name (see catalog)")
    c.add_argument("--scale")
    c.add_argument("--nc", type=int)
    c.add_argument("--imgsz", type=int, default=640)
    c.add_argument("--json", action="store_true")
    c.add_argument("--check", action="store_true", help="also build real weights and run a forward pass")
    c.set_defaults(func=cmd_info)
    c = sub.add_parser("edit", help="block-level edits (swap, recipe, insert, delete, set) in order, -o OUT.yaml")
    c.add_argument("file", nargs="?", help="model yaml, or a preset name (see catalog)")
    for flag, meta in (("--swap", "OLD=NEW"), ("--section", "backbone|neck|head|all"), ("--where", "k=3,s=2"),
                       ("--recipe", "NAME"), ("--insert", "INDEX:ROW"), ("--delete", "INDEX"),
                       ("--set", "INDEX:ARG=VALUE")):
        c.add_argument(flag, dest=flag[2:], action=_Ordered, metavar=meta)
    c.add_argument("--list-recipes", dest="list_recipes", action="store_true")
    c.add_argument("--nc", type=int)
    c.add_argument("--imgsz", type=int, default=640)
    c.add_argument("-o", "--output", help="file to write")
    c.set_defaults(func=cmd_edit, edits=None)
    c = sub.add_parser("export", help="ONNX of a design or checkpoint, checked against onnxruntime")
    c.add_argument("weights", help="checkpoint (.pt), model yaml, or preset name")
    c.add_argument("--imgsz", type=int, default=640)
    c.add_argument("--dynamic", action="store_true", help="batch, height and width as dynamic axes")
    c.add_argument("--out", help="output .onnx (default: NAME.onnx here)")
    c.add_argument("--pack", help="also write the export pack zip (yaml + blocks module + README) here")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_export)
    c = sub.add_parser("predict", help="detect on images with a checkpoint or (untrained) design")
    c.add_argument("--weights", required=True, help="checkpoint (.pt), model yaml, or preset name")
    c.add_argument("--source", required=True, help="an image or a folder of images")
    c.add_argument("--imgsz", type=int, default=640)
    c.add_argument("--conf", type=float, default=0.25)
    c.add_argument("--iou", type=float, default=0.45)
    c.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    c.add_argument("--save", help="folder for the annotated images")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_predict)
    c = sub.add_parser("train", help="train a design on a YOLO dataset (default: the built-in shapes set)")
    model = c.add_mutually_exclusive_group()
    model.add_argument("--cfg", help="a model yaml")
    model.add_argument("--preset", help="a preset name (see catalog)")
    model.add_argument("--backbone")
    c.add_argument("--neck")
    c.add_argument("--head")
    c.add_argument("--scale")
    c.add_argument("--data", help="shapes (built in, the default) or a data.yaml")
    c.add_argument("--epochs", type=int)
    c.add_argument("--imgsz", type=int)
    c.add_argument("--batch", type=int)
    c.add_argument("--device", help="cpu or cuda:N")
    c.add_argument("--workers", type=int)
    c.add_argument("--project")
    c.add_argument("--name")
    c.add_argument("--events", help="write every event as a line of JSON here")
    c.add_argument("--resume", help="a run's last.pt: continue where it stopped")
    c.add_argument("--seed", type=int)
    c.add_argument("--cache", action="store_true", default=None, help="keep decoded images in RAM")
    c.add_argument("--cos-lr", dest="cos_lr", action="store_true", default=None)
    c.add_argument("--sync-bn", dest="sync_bn", action="store_true", default=None)
    c.add_argument("--close-mosaic", dest="close_mosaic", type=int)
    c.add_argument("--optimizer", choices=("auto", "SGD", "AdamW"), help="auto: AdamW for short runs, else SGD")
    c.add_argument("--exist-ok", dest="exist_ok", action="store_true", default=None,
                   help="write into project/name even if it exists")
    c.set_defaults(func=cmd_train)
    return p


def main(argv=None) -> int:
    from graph.errors import SpecError

    errors = (SpecError,)
    args = parser().parse_args(argv)
    if not getattr(args, "func", None):
        return cmd_serve(args)
    if args.cmd in ("export", "predict", "train"):
        from engine.checkpoint import CheckpointError
        from engine.data.config import DataError
        from engine.deploy.export import ExportError
        from engine.images import ImageError

        errors += (CheckpointError, ExportError, ImageError, DataError)
    try:
        return args.func(args)
    except errors as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
