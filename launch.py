"""YOLO Lite Designer — the one entry point.

    python launch.py [--host H] [--port P] [--max-jobs N] [--disk-quota 10G] ...
                                          serve the designer on http://127.0.0.1:7860
    python launch.py catalog [--json]     blocks, backbones, necks, heads, presets
    python launch.py compose --backbone B --neck N --head H [--scale s] [--nc 80] [-o FILE]
    python launch.py info FILE|PRESET [--scale S] [--nc N] [--imgsz 640] [--json] [--check] [--latency]
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
import sys

from cli.design import _Ordered, cmd_catalog, cmd_compose, cmd_edit, cmd_info, not_file_nor_preset, run_check  # noqa: F401
from cli.work import cmd_export, cmd_predict, cmd_serve, cmd_train, server_options  # noqa: F401


def parser() -> argparse.ArgumentParser:
    from engine.deploy.measure import add_latency_arguments  # info's --latency / --backend / --threads
    from engine.deploy.options import DeployOptions  # export's --format / --int8 / --data / --calib / --threads
    from cli.explore import add_explore_command  # explore's options and output (+ latency where measured)
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
    p.add_argument("--no-prewarm", dest="no_prewarm", action="store_true",
                   help="do not count the design space into the disk cache in the background at start (app/prewarm.py)")
    p.add_argument("--data-root", dest="data_root", action="append", default=[], metavar="DIR",
                   help="a folder the Train tab's 'data.yaml on the server' may read from; repeatable "
                   "(default: anywhere for a loopback server, nowhere otherwise)")
    sub = p.add_subparsers(dest="cmd")
    c = sub.add_parser("catalog", help="list blocks, backbones, necks, heads and presets")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_catalog)
    add_explore_command(sub)
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
    add_latency_arguments(c)  # --latency [--backend onnx|openvino|torch] [--threads N]
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
    c = sub.add_parser("export", help="ONNX (+ INT8, OpenVINO) of a design or checkpoint, checked and timed")
    c.add_argument("weights", help="checkpoint (.pt), model yaml, or preset name")
    c.add_argument("--imgsz", type=int, default=640)
    c.add_argument("--dynamic", action="store_true", help="batch, height and width as dynamic axes")
    c.add_argument("--out", help="output .onnx (default: NAME.onnx here)")
    c.add_argument("--pack", help="also write the export pack zip (yaml + blocks module + README) here")
    c.add_argument("--json", action="store_true")
    DeployOptions.add_arguments(c)
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
    if args.cmd in ("export", "predict", "train", "info"):
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
