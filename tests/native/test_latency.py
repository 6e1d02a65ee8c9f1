"""Latency: the profile maps every node to a yaml layer (onnxruntime, with and without onnxslim's
simplification; PyTorch; OpenVINO when installed) on a few presets at 64 px, the timing loop's
statistics, and the keys of `info --latency --json`. No timing is asserted: the numbers belong to
the machine (bench/ and the README give them)."""
from __future__ import annotations

import json

import pytest

import launch
from engine.deploy import latency, measure
from engine.deploy.export import deploy_model, export_onnx
from engine.deploy.profile import layer_of_name, node_layers, onnx_profile, parse_ort_profile, torch_profile
from engine.loading import load_any

PRESETS = ["yolov8n", "yolov5n", "yolo26n", "yolov5s-repvgg", "yolov5-shufflenetv2", "yolov5-mobilenetv3-small"]
# (preset, simplified by onnxslim as export writes it, or the exporter's raw graph)
CASES = [(p, True) for p in PRESETS] + [("yolov8n", False), ("yolov5-mobilenetv3-small", False)]


@pytest.fixture(autouse=True)
def quick(monkeypatch, quick_probe):
    """Short budgets, and this machine's probe cached in a scratch folder."""
    monkeypatch.setattr(measure, "CLI_BUDGET_S", 0.3)


def test_names_say_their_layer():
    assert layer_of_name("/model.12/cv1/conv/Conv") == 12
    assert layer_of_name("/model.0/act/Mul/QuickGeluFusion/") == 0
    assert layer_of_name("/model.3/conv/Conv_output_0_nchwc") == 3
    assert layer_of_name("ReorderInput_token_7") is None and layer_of_name("/model.x/Conv") is None


def test_nameless_nodes_go_to_their_neighbour():
    # image -> ReorderInput -> /model.0 conv -> ReorderOutput -> /model.1 ... ; a lone node -> None
    nodes = {"ReorderInput": ("ReorderInput", [], ["/model.0/conv/Conv"]),
             "/model.0/conv/Conv": ("Conv", ["ReorderInput"], ["ReorderOutput_token_3"]),
             "ReorderOutput_token_3": ("ReorderOutput", ["/model.0/conv/Conv"], ["/model.1/Concat"]),
             "/model.1/Concat": ("Concat", ["ReorderOutput_token_3"], []),
             "Lonely_5": ("Add", [], [])}
    assert node_layers(nodes) == {"ReorderInput": 0, "/model.0/conv/Conv": 0, "ReorderOutput_token_3": 0,
                                  "/model.1/Concat": 1, "Lonely_5": None}


def test_profile_events_become_per_layer_medians():
    run = lambda ts: {"cat": "Session", "name": "model_run", "ts": ts, "dur": 100}  # noqa: E731
    node = lambda name, ts, dur: {"cat": "Node", "name": f"{name}_kernel_time", "ts": ts, "dur": dur}  # noqa: E731
    events = [run(0), node("/model.0/Conv", 1, 50),  # the warm-up run: skipped
              run(200), node("/model.0/Conv", 201, 10), node("/model.1/Add", 220, 30), node("Odd_1", 260, 5),
              run(400), node("/model.0/Conv", 401, 20), node("/model.1/Add", 420, 40), node("Odd_1", 460, 5)]
    prof = parse_ort_profile(events, {"/model.0/Conv": 0, "/model.1/Add": 1, "Odd_1": None})
    assert prof["runs"] == 2 and prof["layer_ms"] == {0: 0.015, 1: 0.035} and prof["other_ms"] == {"Odd_1": 0.005}
    assert prof["sum_ms"] == pytest.approx(0.055) and prof["run_ms"] == pytest.approx(0.1)
    assert prof["coverage"] == pytest.approx((0.045 + 0.065) / 2 / 0.1)  # the runs' node time / their own time


def test_median_interval_and_stopping():
    lo, hi = latency.median_ci([float(k) for k in range(1, 101)])
    assert lo < 50.5 < hi and hi - lo < 25
    calls = []
    out = latency.time_runs(lambda: calls.append(1), budget_s=0.2)
    assert out["runs"] >= latency.MIN_RUNS and out["warmup_runs"] >= latency.WARMUP_RUNS
    assert len(calls) == out["runs"] + out["warmup_runs"] and out["p10_ms"] <= out["median_ms"] <= out["p90_ms"]


@pytest.mark.parametrize("preset,clean", CASES, ids=[f"{p}-{'onnxslim' if c else 'raw'}" for p, c in CASES])
def test_onnxruntime_profile_maps_every_node(preset, clean, tmp_path):
    loaded = load_any(preset, 64)
    path = str(tmp_path / "m.onnx")
    export_onnx(loaded, path, 64, clean=clean)
    x = latency.random_image(loaded.model, 64)
    prof = onnx_profile(path, x, threads=1, runs=2)
    assert prof["other_ms"] == {}, f"nodes of no layer: {sorted(prof['other_ms'])}"
    layers = len(loaded.model.model)
    assert prof["runs"] == 2 and prof["nodes"] > layers // 2
    assert set(prof["layer_ms"]) <= set(range(layers)) and layers - 1 in prof["layer_ms"]  # the head's nodes too
    assert prof["sum_ms"] == pytest.approx(sum(prof["layer_ms"].values()))


def test_torch_profile_times_every_layer():
    loaded = load_any("yolov8n", 64)
    model = deploy_model(loaded.model)
    prof = torch_profile(model, latency.random_image(model, 64), threads=1, runs=2)
    assert set(prof["layer_ms"]) == set(range(len(model.model))) and prof["other_ms"] == {}


def test_info_latency_json_keys(capsys):
    assert launch.main(["info", "yolov8n", "--imgsz", "64", "--latency", "--threads", "1", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    lat = info["latency"]
    assert {"backend", "threads", "imgsz", "median_ms", "p10_ms", "p90_ms", "ci_ms", "runs", "warmup_runs",
            "cpu", "profile", "roofline"} <= set(lat)
    assert lat["backend"] == "onnx" and lat["threads"] == 1 and lat["imgsz"] == 64 and lat["runs"] >= 5
    prof = lat["profile"]
    assert {"how", "runs", "layer_ms", "other_ms", "sum_ms", "ratio", "coverage", "per_layer"} <= set(prof)
    assert prof["other_ms"] == {} and set(prof["layer_ms"]) <= {str(i) for i in range(len(info["per_layer"]))}
    assert [r["index"] for r in prof["per_layer"]] == list(range(len(info["per_layer"])))
    assert sum(r["share"] for r in prof["per_layer"]) == pytest.approx(1.0)
    assert sum(r["flop_share"] for r in prof["per_layer"]) == pytest.approx(1.0)
    here = lat["roofline"][0]
    assert here["key"] == "this" and here["measured_ms"] == lat["median_ms"] and here["estimate_ms"] > 0
    assert {r["key"] for r in lat["roofline"][1:]} == {d["key"] for d in measure.roofline.DEVICES}
    assert info["mac_bytes"] > 0


def test_info_latency_text_and_torch_backend(capsys):
    assert launch.main(["info", "yolov8n", "--imgsz", "64", "--latency", "--threads", "1", "--backend", "torch"]) == 0
    out = capsys.readouterr().out
    assert "latency: PyTorch eager" in out and "per-layer profile (forward hooks" in out
    assert "roofline estimate" in out and "Raspberry Pi 4" in out and "other (nodes of no layer): none" in out


def test_bad_latency_requests_exit_2(capsys):
    assert launch.main(["info", "yolov8n", "--imgsz", "64", "--latency", "--threads", "-2"]) == 2
    assert "threads must be a whole number of at least 1" in capsys.readouterr().err
    assert launch.main(["info", "yolov8n", "--imgsz", "70", "--latency"]) == 2  # not a multiple of the stride
    assert "not a multiple of" in capsys.readouterr().err


def test_missing_openvino_is_named(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_openvino(name, *a, **kw):
        if name == "openvino" or name.startswith("openvino."):
            raise ImportError(name)
        return real(name, *a, **kw)
    monkeypatch.setattr(builtins, "__import__", no_openvino)
    with pytest.raises(latency.LatencyError, match="openvino"):
        latency.backend_row("openvino")
