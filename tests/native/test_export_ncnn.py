"""NCNN: every preset's clean ONNX converted by pnnx, run in ncnn's Python binding and matching
onnxruntime, or refused naming the yaml layer and the op ncnn lacks (the end-to-end heads' TopK
decode); the folder Ultralytics' runner reads (model.ncnn.param, .bin, metadata.yaml) through
`deploy`; a dynamic export and missing packages refused with one line each."""
import os
import importlib.util

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import launch
from engine.deploy.accuracy import ort_runner
from engine.deploy.export import ExportError, export_onnx
from engine.deploy.metadata import read_metadata
from engine.deploy.ncnn_target import (PARITY_TOLERANCE, NcnnError, _refusal, export_ncnn, ncnn_folder, ncnn_runner,
                                       unsupported)
from engine.deploy.options import DeployOptions, missing_packages
from engine.deploy.targets import deploy
from engine.heads import head_kind
from engine.loading import load_design
from graph import safeyaml
from graph.templates import preset_path, presets

needs_ncnn = pytest.mark.skipif(bool(missing_packages("ncnn")),
                                reason="pnnx / ncnn not installed (pip install pnnx ncnn)")


def design(name, imgsz=64):
    return load_design(open(preset_path(name)).read(), imgsz, name)


def onnx_of(name, tmp_path, imgsz=64, **kw):
    loaded = design(name, imgsz)
    r = export_onnx(loaded, str(tmp_path / "m.onnx"), imgsz, **kw)
    return loaded, r, read_metadata(r.path)


@needs_ncnn
@pytest.mark.parametrize("name", list(presets()))
def test_every_preset_runs_in_ncnn_like_onnxruntime_or_is_refused_by_layer(name, tmp_path):
    loaded, r, meta = onnx_of(name, tmp_path)
    kind, reference = head_kind(loaded.model), ort_runner(r.path, 1)[0]
    if kind.rows_fixed:  # end-to-end heads: the top-k decode has no ncnn layer
        head = len(loaded.model.model) - 1
        with pytest.raises(NcnnError, match=rf"^NCNN cannot map layer {head} \(/model\.{head}/\w+\): ncnn has no "
                                            r"\w+ layer .*TopK") as err:
            export_ncnn(r.path, meta, kind.compare, r.checked_sizes, reference, 1)
        assert "\n" not in str(err.value)
        assert not (tmp_path / "m_ncnn_model").exists()  # nothing written
        return
    out = export_ncnn(r.path, meta, kind.compare, r.checked_sizes, reference, 1)
    x = np.random.default_rng(7).random((1, 3, 64, 64), dtype=np.float32)
    want, got = reference(x), out["run"](x)
    assert got.shape == want.shape
    assert kind.compare(want, got) <= PARITY_TOLERANCE, f"{name}: ncnn vs onnxruntime"


@needs_ncnn
def test_deploy_writes_the_folder_ultralytics_reads_and_times_it(tmp_path):
    loaded = design("yolov5-mobilenetv3-small", 128)
    report = deploy(loaded, str(tmp_path / "mb.onnx"), 128, opts=DeployOptions(format="ncnn", runs=3))
    onnx_row, row = report.targets
    assert row["label"] == "NCNN fp32" and row["check"].endswith(" ok") and row["median_ms"] > 0
    folder, param = ncnn_folder(str(tmp_path / "mb.onnx"))
    assert row["path"] == param and param.endswith("mb_ncnn_model/model.ncnn.param")
    assert sorted(p.name for p in (tmp_path / "mb_ncnn_model").iterdir()) == [
        "metadata.yaml", "model.ncnn.bin", "model.ncnn.param"]  # pnnx's intermediate files stay in its scratch
    side = safeyaml.load_file(str(tmp_path / "mb_ncnn_model" / "metadata.yaml"), "metadata.yaml")
    assert side["imgsz"] == [128, 128] and side["names"] == read_metadata(onnx_row["path"])["names"]
    assert row["bytes"] > onnx_row["bytes"] * 0.9  # fp32 weights kept
    x = np.random.default_rng(3).random((1, 3, 128, 128), dtype=np.float32)
    again = ncnn_runner(param, 1)  # the written pair runs on its own
    assert np.abs(again(x) - ort_runner(onnx_row["path"], 1)[0](x)).max() < 1e-2  # boxes in pixels, up to 128


@needs_ncnn
def test_an_op_ncnn_lacks_is_named_by_its_layer(tmp_path):
    param = tmp_path / "model.ncnn.param"
    param.write_text("7767517\n3 3\nInput in0 0 1 in0\nTopK TopK_0 1 2 in0 a b\nSigmoid Sigmoid_1 1 1 a out0\n")
    node = helper.make_node("TopK", ["images", "k"], ["v", "i"], name="/model.3/m/TopK")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 8]),
                                            helper.make_tensor_value_info("k", TensorProto.INT64, [1])],
                              [helper.make_tensor_value_info("v", TensorProto.FLOAT, [1, 2])])
    path = str(tmp_path / "m.onnx")
    onnx.save(helper.make_model(graph), path)
    bad = unsupported(str(param), path)
    assert bad == [("TopK", "TopK_0", ["/model.3/m/TopK"])]  # Input and Sigmoid are ncnn layers
    msg = str(_refusal(bad))
    assert msg == "NCNN cannot map layer 3 (/model.3/m/TopK): ncnn has no TopK layer"


@needs_ncnn
def test_a_dynamic_export_is_refused_in_one_line(tmp_path):
    loaded, r, meta = onnx_of("yolov8n", tmp_path, dynamic=True)
    with pytest.raises(ExportError, match="needs a fixed image size.*without --dynamic"):
        export_ncnn(r.path, meta, head_kind(loaded.model).compare, r.checked_sizes, ort_runner(r.path, 1)[0], 1,
                    dynamic=True)
    assert not (tmp_path / "m_ncnn_model").exists()


def test_missing_packages_are_named_with_the_pip_command(monkeypatch, tmp_path, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "pnnx" else real(n, *a))
    assert DeployOptions(format="ncnn").problem() == "--format ncnn needs pnnx: pip install pnnx"
    assert DeployOptions(format="openvino").problem() == ""
    out = tmp_path / "x.onnx"
    assert launch.main(["export", "yolov8n", "--imgsz", "64", "--format", "ncnn", "--out", str(out)]) == 2
    assert "error: --format ncnn needs pnnx: pip install pnnx" in capsys.readouterr().err
    assert not out.exists()  # refused before anything is written


@needs_ncnn
def test_the_export_tabs_panel_offers_ncnn_and_gives_its_folder_as_a_zip():
    import zipfile

    from app.export_deploy import FORMATS, run_deploy
    from graph.source import source

    assert FORMATS["ONNX + NCNN"] == "ncnn"
    design = {"yaml": source("yolov8n-ghostnet").yaml(imgsz=64), "name": "ghost"}
    rows, notes, files, message = run_deploy(design, "Current design (untrained)", 64, "ONNX + NCNN", False, 4,
                                             "shapes")
    assert [r[0] for r in rows] == ["ONNX fp32", "NCNN fp32"] and 'class="yld-ok"' in message
    assert all(r[2] > 0 for r in rows) and "onnxruntime" in rows[1][6]  # timed, and checked against ORT
    assert [os.path.splitext(f)[1] for f in files] == [".onnx", ".zip"]
    with zipfile.ZipFile(files[1]) as z:
        names = {os.path.basename(n) for n in z.namelist()}
    assert {"model.ncnn.param", "model.ncnn.bin", "metadata.yaml"} <= names
