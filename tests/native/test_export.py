"""Checkpoints, ONNX export with its onnxruntime check, and the export pack."""
import io
import json
import os
import subprocess
import sys
import types
import zipfile

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import blocks
from engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from engine.deploy.export import ExportError, export_onnx
from engine.deploy.pack import STOCK, export_pack, standalone_module
from engine.loading import load_any, load_design
from graph.resolve import resolve
from graph.spec import parse, parse_file
from graph.templates import preset_path, presets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def design(name, imgsz=64):
    return load_design(open(preset_path(name)).read(), imgsz, name)


HEAD_KINDS = ("anchor-based", "anchor-free", "end-to-end")


def expected_head(name, imgsz=64):
    """(kind label, eval output shape) that the preset's own resolved head promises: anchors given ->
    anchor-based, (1, na * cells, 5 + nc); end-to-end (`end2end: True`, v10Detect) -> (1, 300, 6);
    else anchor-free, (1, 4 + nc, cells)."""
    graph = resolve(parse_file(preset_path(name))[0], imgsz)
    cells = sum(graph.layers[s].shape[1] * graph.layers[s].shape[2] for s in graph.head.sources)
    anchors = graph.head.args.get("anchors")
    if anchors:
        return "anchor-based", (1, len(anchors[0]) // 2 * cells, 5 + graph.spec.nc)
    if graph.head.ctor_kw.get("end2end") or graph.head.module == "v10Detect":
        return "end-to-end", (1, 300, 6)
    return "anchor-free", (1, 4 + graph.spec.nc, cells)


def test_presets_export_both_head_kinds():
    """The per-preset export test below takes both branches of its head check (and the end-to-end
    one when a preset has that head)."""
    assert {"anchor-based", "anchor-free"} <= {expected_head(name)[0] for name in presets()}


@pytest.mark.parametrize("name", list(presets()))
def test_every_preset_exports_and_matches_onnxruntime(name, tmp_path):
    loaded = design(name)
    r = export_onnx(loaded, str(tmp_path / f"{name}.onnx"), 64)
    assert r.max_abs_diff <= 1e-3 and r.bytes == os.path.getsize(r.path)
    assert not [f for f in os.listdir(tmp_path) if not f.endswith(".onnx")]  # one file, no side data
    m = onnx.load(r.path)
    assert m.opset_import[0].version == 18
    assert [i.name for i in m.graph.input] == ["images"] and [o.name for o in m.graph.output] == ["output0"]
    assert not any(n.op_type == "BatchNormalization" for n in m.graph.node)  # BN folded: the deploy form
    out = ort.InferenceSession(r.path, providers=["CPUExecutionProvider"]).run(
        None, {"images": np.zeros((1, 3, 64, 64), np.float32)})[0]
    kind, want = expected_head(name)
    others = [k for k in HEAD_KINDS if k != kind]
    assert kind in r.head and not any(k in r.head for k in others), f"{name}: a {kind} head reported as {r.head!r}"
    assert out.shape == want


def test_dynamic_export_runs_at_other_sizes(tmp_path):
    loaded = design("yolov8n", 128)
    r = export_onnx(loaded, str(tmp_path / "d.onnx"), 128, dynamic=True)
    assert len(r.checked_sizes) == 3 and (128, 192) in r.checked_sizes
    s = ort.InferenceSession(r.path, providers=["CPUExecutionProvider"])
    x = torch.rand(2, 3, 96, 160)
    got = s.run(None, {"images": x.numpy()})[0]
    model = loaded.model.eval()
    with torch.no_grad():
        want = model.fuse()(x).numpy()
    assert got.shape == want.shape == (2, 84, 12 * 20 + 6 * 10 + 3 * 5)
    assert np.abs(got - want).max() < 1e-3


def test_repvgg_reparameterised_outputs_equal_training_form():
    loaded = design("yolov5s-repvgg", 64)
    model = loaded.model.eval()
    for m in model.modules():  # non-trivial BatchNorm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
        from engine.deploy.export import deploy_model

        deployed = deploy_model(model)
        after = deployed(x)
    assert not any(type(m).__name__ == "RepVGGBlock" and m.rbr_reparam is None for m in deployed.modules())
    assert torch.allclose(before, after, atol=1e-3, rtol=1e-4)


def test_checkpoint_round_trip_and_weights_only(tmp_path):
    loaded = design("yolov5-shufflenetv2", 64)
    path = save_checkpoint(str(tmp_path / "a.pt"), loaded.model, loaded.yaml, [f"n{i}" for i in range(80)], 64,
                           epoch=3, metrics={"mAP50": 0.5})
    raw = torch.load(path, weights_only=True)  # plain data only
    assert raw["format"] == "yolo-lite-designer/1" and raw["meta"]["epoch"] == 3
    back = load_checkpoint(path)
    assert back.trained and back.names[1] == "n1" and back.imgsz == 64
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(back.model(x), loaded.model.eval()(x))
    assert load_any(path).trained


def test_bad_checkpoints_are_clear_errors(tmp_path):
    good = design("yolov8n", 64)
    cases = {}
    (tmp_path / "text.pt").write_text("not a checkpoint")
    cases["text"] = ("not a readable checkpoint", tmp_path / "text.pt")
    torch.save({"model": torch.zeros(3)}, tmp_path / "foreign.pt")
    cases["foreign"] = ("not a YOLO Lite Designer checkpoint", tmp_path / "foreign.pt")
    path = save_checkpoint(str(tmp_path / "ok.pt"), good.model, good.yaml, None, 64)
    (tmp_path / "cut.pt").write_bytes(open(path, "rb").read()[:5000])
    cases["truncated"] = ("not a readable checkpoint", tmp_path / "cut.pt")
    other = open(preset_path("yolov8s")).read()
    data = torch.load(path, weights_only=True)
    data["yaml"] = other
    torch.save(data, tmp_path / "mismatch.pt")
    cases["mismatch"] = ("does not match the weights", tmp_path / "mismatch.pt")
    data["yaml"] = "nc: 80\nbackbone: [[-1, 1, Nope, [1]]]\nhead: []\n"
    torch.save(data, tmp_path / "badyaml.pt")
    cases["bad yaml"] = ("does not resolve", tmp_path / "badyaml.pt")
    for label, (words, p) in cases.items():
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(str(p))
        assert words in str(info.value) and "\n" not in str(info.value), label


def test_pack_module_is_standalone_and_builds_the_same_blocks(tmp_path):
    name = "yolov5-shufflenetv2"
    spec, _ = parse_file(preset_path(name))
    graph = resolve(spec, 64)
    z = zipfile.ZipFile(io.BytesIO(export_pack(graph, open(preset_path(name)).read())))
    assert sorted(z.namelist()) == ["README.md", "model.yaml", "yolo_lite_blocks.py"]
    src = z.read("yolo_lite_blocks.py").decode()
    assert "from blocks" not in src and "import blocks" not in src and "@register(" not in src
    mod = types.ModuleType("yolo_lite_blocks")
    exec(compile(src, "yolo_lite_blocks.py", "exec"), mod.__dict__)
    from blocks.shufflenet import Shuffle_Block

    torch.manual_seed(0)
    ours = Shuffle_Block(32, 64, 2).eval()
    theirs = mod.Shuffle_Block(32, 64, 2).eval()
    theirs.load_state_dict(ours.state_dict())
    x = torch.rand(1, 32, 16, 16)
    assert torch.equal(ours(x), theirs(x))
    readme = z.read("README.md").decode()
    used = {node.module for node in graph.layers}
    custom = {"Shuffle_Block", "DWConvblock", "ADD", "conv_bn_relu_maxpool"}  # the article's own blocks
    assert custom == {m for m in used if not blocks.get_block(m).upstream}
    for block in used:  # custom blocks are named for registration, stock ones (Conv, Concat ...) not
        assert (f"`{block}`" in readme) == (block in custom), block
        info = blocks.get_block(block)
        if info.cls.__module__.startswith("blocks."):  # and the module defines every class it builds
            makers = (info.cls, getattr(info, "build", None))
            assert all(hasattr(mod, f.__name__) for f in makers if f is not None), block
    assert parse(z.read("model.yaml").decode())[0] == spec


def test_pack_for_every_block_family_parses():
    ours = [b for b in blocks.list_blocks() if b.cls.__module__.startswith("blocks.")]
    # the rest are torch's own modules (nn.Upsample), which need no source
    assert all(b.cls.__module__.startswith("torch.") for b in blocks.list_blocks() if b not in ours)
    names = sorted({f.__name__ for b in ours for f in (b.cls, getattr(b, "build", None)) if f is not None})
    src = standalone_module(names)
    mod = types.ModuleType("all_blocks")
    exec(compile(src, "all.py", "exec"), mod.__dict__)
    assert all(hasattr(mod, n) for n in names)
    assert {"Conv", "Detect"} <= STOCK


# Designs whose packs are imported on their own: every seed article's blocks, and Ultralytics 8.4's
# (YOLO11's C3k2 / C2PSA, YOLO12's A2C2f, YOLO26's end-to-end head, YOLOv10's, YOLOv9's RepNCSPELAN4).
PACKED = ["yolov5-shufflenetv2", "yolov8n-ghostnet", "yolov5s-slimneck", "yolov5-mobilenetv3-small",
          "yolov5s-repvgg", "ultra/ul-yolo11.yaml", "ultra/ul-yolo12.yaml", "ultra/ul-yolo26.yaml",
          "ultra/ul-yolov10n.yaml", "ultra/ul-yolov9t.yaml"]
PACK_CHECK = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
import torch
import yolo_lite_blocks as pack
assert not [m for m in sys.modules if m.split(".")[0] in ("blocks", "graph", "engine")]
cases, results = torch.load(os.path.join(sys.argv[1], "cases.pt"), weights_only=True), []
for c in cases:
    m = getattr(pack, c["maker"])(*c["ctor"], **c["ctor_kw"]).eval()
    m.load_state_dict(c["state"])
    with torch.no_grad():
        y = m(c["x"] if c["multi"] else c["x"][0])
    y = torch.cat([t.flatten() for t in y]) if isinstance(y, (list, tuple)) else y
    results.append([c["where"], sum(p.numel() for p in m.parameters()) == c["params"],
                    y.shape == c["y"].shape and torch.allclose(y, c["y"], atol=1e-5)])
print(json.dumps(results))
"""


def _pack_cases(name):
    """(the pack's module text, one case per layer the module builds: its maker, constructor args, our
    layer's weights, an input and our output) for a preset or a fixture."""
    path = os.path.join(ROOT, "tests", "fixtures", name) if name.endswith(".yaml") else preset_path(name)
    text = open(path).read()
    graph = resolve(parse(text, name=os.path.basename(name))[0], 64)
    src = zipfile.ZipFile(io.BytesIO(export_pack(graph, text))).read("yolo_lite_blocks.py").decode()
    cases, maps = [], {-1: torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))}
    for node in graph.layers:
        torch.manual_seed(node.index)
        layer = node.info.make(*node.ctor, **node.ctor_kw).eval()
        x = [maps[s] for s in node.sources]
        with torch.no_grad():
            y = layer(x if node.info.inputs != 1 else x[0])
        maps[node.index] = y
        maker = node.info.build or node.info.cls
        if maker.__module__.startswith("torch."):
            continue  # torch's own layers: upstream has them, the pack does not carry them
        flat = torch.cat([t.flatten() for t in y]) if isinstance(y, (list, tuple)) else y
        cases.append({"where": f"{name} layer {node.index} {node.module}", "maker": maker.__name__,
                      "ctor": list(node.ctor), "ctor_kw": dict(node.ctor_kw), "state": layer.state_dict(),
                      "x": x, "multi": node.info.inputs != 1, "y": flat,
                      "params": sum(p.numel() for p in layer.parameters())})
    return src, cases


@pytest.mark.parametrize("name", PACKED)
def test_pack_module_imports_alone_and_builds_every_block_it_carries(name, tmp_path):
    """The shipped module, imported by a fresh interpreter that cannot see this project (isolated
    mode), builds every block of the design it carries (with the yaml's constructor args), to the same
    parameter count and, with our weights, the same output. Once a pack's Conv called `default_act()`
    without the activation context it reads, and raised NameError there."""
    src, cases = _pack_cases(name)
    (tmp_path / "yolo_lite_blocks.py").write_text(src)
    torch.save(cases, tmp_path / "cases.pt")
    p = subprocess.run([sys.executable, "-I", "-c", PACK_CHECK, str(tmp_path)], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    results = json.loads(p.stdout.strip().splitlines()[-1])
    assert len(results) == len(cases) and cases
    assert [where for where, same_params, same_out in results if not (same_params and same_out)] == []


def test_pack_carries_the_ultralytics_blocks_and_refuses_a_broken_module():
    for name in ("ultra/ul-yolo11.yaml", "ultra/ul-yolo26.yaml"):
        built = {c["maker"] for c in _pack_cases(name)[1]}
        assert built == {"Conv", "C3k2", "SPPF", "C2PSA", "Concat", "detect_head"}, name  # the head's maker
    from engine.deploy.pack import undefined_names

    assert undefined_names("import torch\nclass A:\n    z = q\n    def top(self, x):\n"
                           "        b = [y for y in x]\n        return torch.cat(b) + w\n") == {"q", "w"}


def test_cli_export_and_bad_input(tmp_path):
    out = tmp_path / "m.onnx"
    p = subprocess.run([sys.executable, "launch.py", "export", "yolov8n", "--imgsz", "64", "--out", str(out),
                        "--json", "--pack", str(tmp_path / "m.zip")], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["max_abs_diff"] <= 1e-3 and out.exists() and (tmp_path / "m.zip").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("nc: 80\nbackbone: [[-1, 1, Conv, [16, 3, 2]], [5, 1, Conv, [16]]]\nhead: []\n")
    for target in (str(bad), str(tmp_path / "missing.pt")):
        p = subprocess.run([sys.executable, "launch.py", "export", target], cwd=ROOT, capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 2 and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) <= 2


def test_export_refuses_size_not_multiple_of_stride(tmp_path):
    with pytest.raises(ExportError, match="multiple"):
        export_onnx(design("yolov8n"), str(tmp_path / "x.onnx"), 70)
