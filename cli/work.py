"""The work commands of `launch.py`: export (ONNX, INT8, OpenVINO, the pack), predict, train, and serving
the page (its flags turned into app/settings.py fields). Each `cmd_*` takes the parsed arguments and
returns the exit status; launch.py maps the errors it knows to one line and status 2."""
from __future__ import annotations

import json
import os
import signal
import sys


def cmd_export(a) -> int:
    from engine.deploy.targets import DeployOptions, deploy
    from engine.loading import load_any

    loaded = load_any(a.weights, a.imgsz)
    out = a.out or os.path.splitext(os.path.basename(a.weights))[0] + ".onnx"
    report = deploy(loaded, out, a.imgsz, a.dynamic, DeployOptions.from_args(a), lambda m: print(m, file=sys.stderr))
    if a.pack:
        from engine.deploy.pack import export_pack
        from graph.resolve import resolve
        from graph.source import source

        design = source(text=loaded.yaml, name=os.path.splitext(os.path.basename(out))[0])
        with open(a.pack, "wb") as fh:
            fh.write(export_pack(resolve(design.spec, report.onnx.imgsz), loaded.yaml))
    if a.json:
        print(json.dumps({**report.as_dict(), "pack": a.pack}, indent=1))
    else:
        print(report.text())
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

    if getattr(a, "no_prewarm", False):
        os.environ["YLD_PREWARM"] = "off"
    serve(**opts)
    return 0
