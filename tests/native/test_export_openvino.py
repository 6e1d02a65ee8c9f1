"""OpenVINO: every preset's clean ONNX read by OpenVINO's ONNX frontend, compiled for the CPU and
matching onnxruntime; the IR folder Ultralytics' runner reads (xml, bin, metadata.yaml); a node the
frontend cannot map is named by its yaml layer; and the telemetry-sending converter is never used."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from engine.deploy.accuracy import ort_runner
from engine.deploy.export import export_onnx
from engine.deploy.metadata import read_metadata
from engine.deploy.openvino_ir import (PARITY_TOLERANCE, OpenVinoError, compare_runtimes, compile_runner,
                                       ir_folder, read_onnx, save_ir)
from engine.heads import head_kind
from engine.loading import load_design
from graph.templates import preset_path, presets

ov = pytest.importorskip("openvino")


def design(name, imgsz=64):
    return load_design(open(preset_path(name)).read(), imgsz, name)


@pytest.mark.parametrize("name", list(presets()))
def test_every_preset_runs_in_openvino_like_onnxruntime(name, tmp_path):
    loaded = design(name)
    r = export_onnx(loaded, str(tmp_path / "m.onnx"), 64)
    run = compile_runner(read_onnx(r.path), 1)
    diff = compare_runtimes(ort_runner(r.path, 1)[0], run, head_kind(loaded.model).compare, [(64, 64)])
    assert diff <= PARITY_TOLERANCE, f"{name}: OpenVINO vs onnxruntime {diff:.2e}"


def test_ir_folder_dynamic_shapes_and_metadata(tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("openvino.convert_model (the ovc tool, with its telemetry) must not be called")

    monkeypatch.setattr(ov, "convert_model", refuse)
    loaded = design("yolov8n", 128)
    r = export_onnx(loaded, str(tmp_path / "d.onnx"), 128, dynamic=True)
    model = read_onnx(r.path)
    run = compile_runner(model, 1)
    diff = compare_runtimes(ort_runner(r.path, 1)[0], run, head_kind(loaded.model).compare, r.checked_sizes)
    assert diff <= PARITY_TOLERANCE
    folder, xml = ir_folder(r.path)
    assert folder.endswith("d_openvino_model") and xml.endswith("d.xml")
    meta = read_metadata(r.path)
    ir = save_ir(model, xml, meta)
    assert ir["bytes"] > r.bytes * 0.9  # fp32 weights kept
    back = read_metadata(xml)  # the metadata.yaml beside the IR
    assert back["names"] == meta["names"] and back["imgsz"] == [128, 128] and back["task"] == "detect"
    again = compile_runner(xml, 1)  # the written IR runs on its own, at another size too
    x = np.random.default_rng(1).random((1, 3, 64, 96), dtype=np.float32)
    assert np.abs(again(x) - run(x)).max() < 1e-4


def test_a_node_openvino_cannot_map_is_named_by_its_layer(tmp_path):
    node = helper.make_node("NoSuchOp", ["images"], ["output0"], name="/model.3/m/NoSuchOp", domain="com.example")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3, 8, 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.example", 1)])
    path = str(tmp_path / "bad.onnx")
    onnx.save(model, path)
    with pytest.raises(OpenVinoError, match=r"layer 3 \(/model\.3/m/NoSuchOp\)") as err:
        read_onnx(path)
    assert "\n" not in str(err.value)
