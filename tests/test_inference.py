"""Inference jobs and `launch.py predict`: designs and checkpoints, both backends, bad input."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from engine.checkpoint import save_checkpoint
from engine.deploy.run import predictors, run_images
from engine.loading import load_design
from graph.templates import preset_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("imgs")
    Image.new("RGB", (400, 240), (30, 160, 90)).save(d / "a.png")
    Image.new("RGB", (200, 300), (200, 60, 60)).save(d / "b.jpg")
    (d / "c.bmp").write_bytes(b"BM not really")
    return d


def test_design_predictors_both_backends_agree(images):
    preds = predictors(yaml_text=open(preset_path("yolov5n")).read(), imgsz=128)
    out = run_images(preds, [str(images / "a.png"), str(images / "c.bmp")], conf=0.0, iou=0.5)
    assert not out["trained"] and set(out["latency"]) == {"torch", "onnx"}
    assert len(out["results"]) == 1 and "c.bmp" in out["errors"][0]
    r = out["results"][0]
    assert r["image"].size == (400, 240) and r["detections"]
    for d in r["detections"]:
        x1, y1, x2, y2 = d["box"]
        assert 0 <= x1 <= x2 <= 400 and 0 <= y1 <= y2 <= 240
    onnx = run_images(preds, [str(images / "a.png")], conf=0.0, iou=0.5, backend="onnx")["results"][0]
    assert len(onnx["detections"]) == len(r["detections"])
    assert np.allclose([d["box"] for d in onnx["detections"]][:5], [d["box"] for d in r["detections"]][:5], atol=0.5)


def test_checkpoint_predict_cli(images, tmp_path):
    loaded = load_design(open(preset_path("yolov8n")).read(), 128, "v8")
    ckpt = save_checkpoint(str(tmp_path / "best.pt"), loaded.model, loaded.yaml, [f"thing{i}" for i in range(80)], 128)
    p = subprocess.run([sys.executable, "launch.py", "predict", "--weights", ckpt, "--source", str(images / "a.png"),
                        "--imgsz", "128", "--conf", "0", "--json", "--save", str(tmp_path / "out")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["trained"] and out["results"][0]["detections"][0]["class_name"].startswith("thing")
    assert os.path.exists(tmp_path / "out" / "a.jpg")


@pytest.mark.parametrize("make, words", [
    (lambda d: str(d / "c.bmp"), "not an image"),
    (lambda d: str(d / "missing.png"), "not found"),
])
def test_predict_cli_bad_image_exit_2(images, make, words):
    p = subprocess.run([sys.executable, "launch.py", "predict", "--weights", "yolov5n", "--source", make(images),
                        "--imgsz", "64"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and words in p.stderr and "Traceback" not in p.stderr


def test_predict_cli_bad_checkpoint_exit_2(images, tmp_path):
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"\x00" * 100)
    p = subprocess.run([sys.executable, "launch.py", "predict", "--weights", str(bad), "--source",
                        str(images / "a.png")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "not a readable checkpoint" in p.stderr and "Traceback" not in p.stderr
