"""bench/summary.py's deploy section (bench/summary_deploy.py), rendered from a small results file written
in a scratch folder: each target's median / p90 / size / mAP50, its speed against fp32 onnxruntime, the
machine, threads, date and command; and no section when no results file has the deploy targets."""
from __future__ import annotations

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import summary  # noqa: E402

ROW = {"preset": "yolov8n", "imgsz": 640, "onnx_ms_median": 40.0, "onnx_ms_p90": 44.0, "onnx_bytes": 12 * 2**20,
       "torch_ms_median": 80.0, "torch_ms_p90": 90.0, "int8_bytes": 3 * 2**20, "onnx_int8_ms_median": 16.0,
       "onnx_int8_ms_p90": 17.5, "openvino_fp32_ms_median": 50.0, "openvino_fp32_ms_p90": 55.0,
       "openvino_int8_ms_median": 25.0, "openvino_int8_ms_p90": 26.0, "disturbed": False,
       "gflops": 8.7, "torch_gflops_per_s": 109.0, "onnx_gflops_per_s": 218.0}
TARGET = {"label": "ONNX fp32", "bytes": 2**20, "median_ms": 10.0, "p90_ms": 11.0, "mAP50": 0.9, "mAP50-95": 0.6}
MAP = {"checkpoint": "runs/v8n/best.pt", "imgsz": 256, "threads": 2, "accuracy_data": {"images": 100, "data": "shapes"},
       "calibration": {"images": 64},
       "targets": [TARGET, {**TARGET, "label": "ONNX int8", "bytes": 2**19, "median_ms": 4.0, "mAP50": 0.88}]}
RESULTS = {"machine": {"cpu": "Test CPU 9000", "cpus": 2, "onnxruntime": "1.0", "torch_threads": 2,
                       "onnxruntime_intra_op_threads": 0},
           "matmul_peak_gflops": 190.0, "date": "2026-11-28", "command": "python bench/bench_inference.py --sizes 640", "rows": [ROW], "map": [MAP]}


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setattr(summary, "RESULTS", str(tmp_path))

    def write(name, d):
        (tmp_path / name).write_text(json.dumps(d))
    return write


def section(text: str) -> str:
    start = text.index("## Deploy: fp32 vs INT8, onnxruntime and OpenVINO")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def test_the_deploy_section_from_a_results_file(results):
    results("deploy.json", RESULTS)
    s = section(summary.render())
    assert "| yolov8n | 640 | ONNX fp32 (onnxruntime) | 40.00 | 44.00 | 12.00 | 1.00x |" in s
    assert "| yolov8n | 640 | ONNX int8 (onnxruntime) | 16.00 | 17.50 | 3.00 | 2.50x |" in s
    assert "| yolov8n | 640 | OpenVINO int8 | 25.00 | 26.00 | - | 1.60x |" in s
    assert "| yolov8n | 640 | PyTorch eager (fused) | 80.00 | 90.00 | - | 0.50x |" in s
    assert "| ONNX int8 | 4.00 | 11.00 | 0.50 | 2.50x | 0.880 | 0.600 | -2.00 pt |" in s
    assert "Machine: Test CPU 9000, 2 CPUs" in s and "onnxruntime's default (one per physical core)" in s
    assert "Date: 2026-11-28" in s and "Command: `python bench/bench_inference.py --sizes 640`" in s
    assert "`results/deploy.json`" in s
    # 2.50x is fast enough, 2 points of mAP50 lost is not
    assert "speed met" in s and "at most 2.00 points (NOT met)" in s


def test_without_date_or_command_it_says_so(results):
    results("inference.json", {k: v for k, v in RESULTS.items() if k not in ("date", "command", "map")})
    s = section(summary.render())
    assert "`results/inference.json`" in s and "the file's date; it records none" in s
    assert "python bench/bench_inference.py --presets yolov8n --sizes 640" in s and "records no command" in s
    assert "mAP50 lost by" not in s and "Short-trained" not in s  # no checkpoints scored


def test_no_deploy_results_no_section(results):
    results("deploy.json", {"rows": [{k: v for k, v in ROW.items() if "int8" not in k and "openvino" not in k}]})
    assert "## Deploy" not in summary.render()
