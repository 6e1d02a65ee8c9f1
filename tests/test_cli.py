"""The launch.py commands as a user runs them: real subprocesses, real files, exit codes."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, check=True):
    p = subprocess.run([sys.executable, "launch.py", *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_catalog_json_lists_every_kind_with_name_summary_source():
    cat = json.loads(run("catalog", "--json").stdout)
    assert set(cat) == {"blocks", "backbones", "necks", "heads", "presets"}
    for rows in cat.values():
        assert rows
        for r in rows:
            assert r["name"] and r["summary"] and r["source"]
    names = {r["name"] for r in cat["backbones"]}
    assert {"yolov5", "yolov8", "yolo11", "yolo26", "shufflenetv2", "ghostnet", "mobilenetv3-small",
            "mobilenetv3-large", "repvgg"} <= names
    assert {r["name"] for r in cat["necks"]} == {"yolov5-pan", "yolov8-pan", "yolo11-pan", "yolo26-pan", "lite-pan",
                                                 "slim-neck"}
    assert {r["name"] for r in cat["heads"]} == {"yolov5", "yolov8", "yolo11", "yolo26"}
    shuffle = next(b for b in cat["blocks"] if b["name"] == "Shuffle_Block")
    assert [a["name"] for a in shuffle["args"]] == ["c2", "s"]


def test_catalog_text_mentions_the_seed_blocks():
    out = run("catalog").stdout
    for name in ("Shuffle_Block", "C2fGhost", "VoVGSCSP", "MobileNetV3", "RepVGGBlock", "lite-pan"):
        assert name in out


def test_compose_then_info_json(tmp_path):
    out = tmp_path / "my.yaml"
    run("compose", "--backbone", "shufflenetv2", "--neck", "lite-pan", "--head", "yolov5",
        "--scale", "s", "--nc", "3", "-o", str(out))
    text = out.read_text()
    assert "Shuffle_Block" in text and "nc: 3" in text
    info = json.loads(run("info", str(out), "--json").stdout)
    for key in ("layers", "params", "gflops", "gflops_stride", "fused_params", "fused_gflops", "imgsz",
                "per_layer"):
        assert key in info
    assert info["imgsz"] == 640 and info["nc"] == 3
    assert info["params"] == sum(row["params"] for row in info["per_layer"])
    assert info["fused_params"] < info["params"]
    assert info["per_layer"][-1]["module"] == "Detect"


def test_compose_to_stdout_equals_file(tmp_path):
    out = tmp_path / "a.yaml"
    args = ("compose", "--backbone", "ghostnet", "--neck", "slim-neck", "--head", "yolov8", "--scale", "n")
    run(*args, "-o", str(out))
    assert run(*args).stdout == out.read_text()


def test_info_text_summary_line_and_table():
    out = run("info", "yolov5s").stdout
    assert "yolov5s summary: 214 layers, 7,235,389 parameters" in out
    assert "Detect" in out and "C3" in out


def test_info_check_builds_and_runs(tmp_path):
    info = json.loads(run("info", "yolov8n", "--imgsz", "128", "--check", "--json").stdout)
    assert info["check"]["params"] == info["params"]
    assert info["check"]["output_shape"] == [1, 84, (16 * 16 + 8 * 8 + 4 * 4)]


def test_info_scale_and_nc_override():
    n = json.loads(run("info", "yolov8s", "--scale", "n", "--json").stdout)
    assert n["params"] == 3157200
    three = json.loads(run("info", "yolov5s", "--nc", "3", "--json").stdout)
    assert three["nc"] == 3 and three["params"] < 7235389


@pytest.mark.parametrize("content, words", [
    ("nc: 80\nbackbone: [[-1, 1, Shufle_Block, [32]]]\nhead: []\n", ["layer 0", "Shuffle_Block"]),
    ("nc: 80\nbackbone: [[-1, 1, Conv, [16, 3, 2]], [5, 1, Conv, [16]]]\nhead: []\n", ["layer 1", "forward"]),
    ("backbone: []\nhead: []\n", ["nc"]),
    ("nc: [\n", ["yaml"]),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, content, words):
    f = tmp_path / "bad.yaml"
    f.write_text(content)
    p = run("info", str(f), check=False)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    for w in words:
        assert w in p.stderr


def test_missing_file_and_unknown_fragment_exit_2():
    p = run("info", "no/such/file.yaml", check=False)
    assert p.returncode == 2 and "cannot read" in p.stderr and "Traceback" not in p.stderr
    p = run("compose", "--backbone", "resnet", "--neck", "lite-pan", "--head", "yolov5", check=False)
    assert p.returncode == 2 and "unknown backbone 'resnet'" in p.stderr


def test_core_never_imports_gradio():
    code = ("import sys, importlib, pkgutil, blocks, graph.compose, graph.counts, graph.catalog, graph.report, "
            "graph.render, engine; "
            "[importlib.import_module(m.name) for m in pkgutil.walk_packages(engine.__path__, 'engine.')]; "
            "import launch; launch.main(['catalog', '--json']) ; print('gradio' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == "False"
