"""OpenVINO through the other paths: the per-layer profile of Measure's openvino backend, and
`launch.py export --int8 --format openvino` writing and timing every target. Run in their own
interpreter with the rest of tests/openvino/ (see tests/test_openvino_isolated.py)."""
from __future__ import annotations

import json
import os

import pytest

import launch
from engine.deploy import latency
from engine.deploy.export import export_onnx
from engine.loading import load_any


def test_openvino_profile_maps_every_node(tmp_path):
    pytest.importorskip("openvino", reason="the openvino package is not installed here")
    from engine.deploy.profile import openvino_profile

    loaded = load_any("yolov8n", 64)
    path = str(tmp_path / "m.onnx")
    export_onnx(loaded, path, 64)
    prof = openvino_profile(path, latency.random_image(loaded.model, 64), threads=1, runs=2)
    assert prof["other_ms"] == {} and len(loaded.model.model) - 1 in prof["layer_ms"]


def test_cli_int8_openvino_writes_and_reports_every_target(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    rc = launch.main(["export", "yolov8n", "--imgsz", "64", "--out", str(out), "--int8", "--calib", "4",
                      "--format", "openvino", "--threads", "1", "--json"])
    assert rc == 0
    info = json.loads(capsys.readouterr().out)
    assert info["max_abs_diff"] <= 1e-3 and info["nodes_after"]["Identity"] == 0 and info["threads"] == 1
    labels = [t["label"] for t in info["targets"]]
    assert labels == ["ONNX fp32", "ONNX int8", "OpenVINO fp32", "OpenVINO int8"]
    for t in info["targets"]:
        assert os.path.exists(t["path"]) and t["bytes"] > 0 and t["median_ms"] > 0 and t["mAP50"] is None
    assert (tmp_path / "m-int8_openvino_model" / "metadata.yaml").exists()
    assert info["calibration"]["images"] == 4
