"""The clean ONNX: every preset's export simplified by onnxslim (no Identity, no Constant node, no dead
constant, static shapes folded) and still matching PyTorch; dynamic exports still vary; the metadata
Ultralytics' runner reads (names, stride, imgsz, task, batch) and our design yaml, parsed back."""
import onnx
import onnxruntime as ort
import numpy as np
import pytest

from engine.deploy import export as export_mod
from engine.deploy.export import export_onnx
from engine.deploy.metadata import read_metadata
from engine.loading import load_design
from graph.counts import count
from graph.resolve import resolve
from graph.source import source
from graph.templates import preset_path, presets


def design(name, imgsz=64):
    return load_design(open(preset_path(name)).read(), imgsz, name)


@pytest.mark.parametrize("name", list(presets()))
def test_every_preset_exports_clean_and_matches_pytorch(name, tmp_path):
    r = export_onnx(design(name), str(tmp_path / "m.onnx"), 64)
    assert r.simplified and r.max_abs_diff <= 1e-3
    nodes = onnx.load(r.path).graph.node
    ops = [n.op_type for n in nodes]
    assert "Identity" not in ops and "Constant" not in ops and "Shape" not in ops, name  # static: shapes folded
    assert r.nodes_after == {**r.nodes_after, "nodes": len(nodes), "Identity": 0, "dead_constants": 0}
    assert r.nodes_after["nodes"] < r.nodes_before["nodes"]
    assert f"nodes {r.nodes_before['nodes']} -> {len(nodes)} (onnxslim" in r.summary()


def test_dynamic_export_still_varies_after_simplification(tmp_path):
    r = export_onnx(design("yolov8n", 128), str(tmp_path / "d.onnx"), 128, dynamic=True)
    assert r.simplified and r.nodes_after["Identity"] == 0 and len(r.checked_sizes) == 3
    sess = ort.InferenceSession(r.path, providers=["CPUExecutionProvider"])
    out = sess.run(None, {"images": np.zeros((2, 3, 96, 160), np.float32)})[0]
    assert out.shape == (2, 84, 12 * 20 + 6 * 10 + 3 * 5)
    assert read_metadata(r.path)["args"]["dynamic"] is True


def test_metadata_props_are_written_and_parsed_back(tmp_path):
    loaded = design("yolov8n")
    loaded.names = [f"thing {i}" for i in range(78)] + ["o'brien", "café"]  # quotes and accents survive
    r = export_onnx(loaded, str(tmp_path / "m.onnx"), 64)
    raw = {p.key: p.value for p in onnx.load(r.path).metadata_props}
    assert raw["names"].startswith("{0: 'thing 0', 1: 'thing 1'") and raw["task"] == "detect"  # Ultralytics' spelling
    assert raw["stride"] == "32" and raw["batch"] == "1" and raw["imgsz"] == "[64, 64]"
    meta = read_metadata(r.path)
    assert meta["names"] == dict(enumerate(loaded.names))
    assert (meta["stride"], meta["batch"], meta["imgsz"], meta["end2end"]) == (32, 1, [64, 64], False)
    assert set(r.metadata) == set(raw) >= {"names", "stride", "imgsz", "task", "batch", "design"}
    rebuilt = resolve(source(text=meta["design"], name="x").spec, 64)  # the file alone rebuilds the design
    assert count(rebuilt).params == count(resolve(source("yolov8n").spec, 64)).params


def test_end_to_end_head_says_so_in_its_metadata(tmp_path):
    r = export_onnx(design("yolo26n"), str(tmp_path / "e.onnx"), 64)
    assert read_metadata(r.path)["end2end"] is True


def test_a_simplifier_failure_keeps_the_graph_and_says_so(tmp_path, monkeypatch):
    def broken(proto):
        raise ValueError("cannot fold this")

    monkeypatch.setattr(export_mod, "simplify", broken)
    r = export_onnx(design("yolov5n"), str(tmp_path / "m.onnx"), 64)
    assert not r.simplified and r.max_abs_diff <= 1e-3
    assert r.nodes_after["nodes"] == r.nodes_before["nodes"] and "cannot fold this" in r.summary()
