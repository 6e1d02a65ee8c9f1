"""INT8: the static QDQ model runs, is smaller, keeps the head's decode tail in fp32 and its metadata;
its accuracy is measured as training validates (the trained demo model); layers are ranked by what
int8 costs them; `launch.py export --int8 / --format openvino` writes every file and reports it, and
bad flags are one line and exit 2."""
import os

import numpy as np
import onnx
import pytest
import torch

import launch
from engine.deploy.accuracy import evaluate, ort_runner, val_set
from engine.deploy.calib import ImageReader, calibration_paths, pick_evenly
from engine.deploy.export import export_onnx
from engine.deploy.metadata import read_metadata
from engine.deploy.quantize import decode_tail, layer_of, layer_sensitivity, quantize_int8
from engine.deploy.targets import DeployOptions, deploy
from engine.loading import load_any, load_design
from graph.templates import preset_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "demo", "shapes-ghost-lite.pt")


def design(name, imgsz=64):
    return load_design(open(preset_path(name)).read(), imgsz, name)


def test_nodes_map_to_layers_and_the_decode_tail_is_the_heads_end(tmp_path):
    assert layer_of("/model.12/cv2/conv/Conv") == 12 and layer_of("onnx::Mul_3") is None
    for name, first_op in (("yolov8n", "Softmax"), ("yolov5n", "Reshape"), ("yolo26n", "TopK")):
        r = export_onnx(design(name), str(tmp_path / f"{name}.onnx"), 64)
        proto = onnx.load(r.path)
        head = max(layer_of(n.name) for n in proto.graph.node if layer_of(n.name) is not None)
        tail = set(decode_tail(proto))
        ops = {n.op_type for n in proto.graph.node if n.name in tail}
        assert tail and all(layer_of(t) == head for t in tail), name
        assert first_op in ops and "Conv" not in ops - ({"Conv"} if name == "yolov8n" else set()), (name, ops)
        producer = {o: n for n in proto.graph.node for o in n.output}
        assert producer["output0"].name in tail  # the last node of the graph is in it


def test_calibration_images_are_spread_and_letterboxed():
    assert pick_evenly([f"{i:02d}" for i in range(10)], 3) == ["00", "03", "06"]
    paths = calibration_paths("shapes", 4)
    assert len(paths) == 4 and all("/train/" in p.replace(os.sep, "/") for p in paths)
    x = ImageReader(paths, 96).get_next()["images"]
    assert x.shape == (1, 3, 96, 96) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1


def test_int8_model_runs_is_smaller_and_keeps_the_tail_fp32(tmp_path):
    loaded = design("yolov8n")
    r = export_onnx(loaded, str(tmp_path / "m.onnx"), 64)
    dst = str(tmp_path / "m-int8.onnx")
    info = quantize_int8(r.path, dst, ImageReader(calibration_paths("shapes", 4), 64))
    assert info["qdq_pairs"] > 50 and os.path.getsize(dst) < 0.35 * r.bytes  # int8 weights: ~1/4
    q = onnx.load(dst)
    tail = set(info["fp32_nodes"])
    producer = {o: n.name for n in q.graph.node for o in n.output}
    assert not [n.name for n in q.graph.node if n.op_type == "QuantizeLinear" and producer.get(n.input[0]) in tail]
    dfl = next(n for n in q.graph.node if n.name.startswith("/model.22/dfl/conv/"))  # the DFL's 1x1 conv (as a
    assert dfl.op_type == "MatMul" and dfl.name in tail  # MatMul: engine/deploy/rewrite.py): fp32 weights
    assert dfl.input[1] in {i.name for i in q.graph.initializer}
    assert any(n.op_type == "QuantizeLinear" and producer.get(n.input[0], "").startswith("/model.22/cv3")
               for n in q.graph.node)  # the head's own convs are quantised
    x = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
    got, want = ort_runner(dst, 1)[0](x), ort_runner(r.path, 1)[0](x)
    assert got.shape == want.shape == (1, 84, 84) and np.isfinite(got).all()


def test_int8_graph_has_no_fp32_island_and_its_concats_copy(tmp_path):
    """onnxruntime's optimised int8 graph: one QuantizeLinear (the image) and one DequantizeLinear per
    head level (into the fp32 decode tail), so no DQ -> fp32 op -> Q round trip is left between the
    int8 kernels (SiLU is QLinearSigmoid + QLinearMul); and every Concat outside the tail reads and
    writes one scale / zero point, so each QLinearConcat copies bytes instead of requantising."""
    import onnxruntime as ort
    from onnx import numpy_helper

    r = export_onnx(design("yolov8n"), str(tmp_path / "m.onnx"), 64)
    dst = str(tmp_path / "m-int8.onnx")
    info = quantize_int8(r.path, dst, ImageReader(calibration_paths("shapes", 4), 64))
    q = onnx.load(dst)
    tail = set(info["fp32_nodes"])
    values = {i.name: numpy_helper.to_array(i) for i in q.graph.initializer}
    producer = {o: n for n in q.graph.node for o in n.output}
    readers = {}
    for n in q.graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    concats = [n for n in q.graph.node if n.op_type == "Concat" and n.name not in tail]
    assert len(concats) == 16 and info["shared_concat_tensors"] > 16  # 8 C2f, SPPF, 4 neck, 3 head levels
    for n in concats:
        (quant,) = readers[n.output[0]]
        assert quant.op_type == "QuantizeLinear"
        for i in n.input:
            dq = producer[i]
            assert dq.op_type == "DequantizeLinear", n.name
            assert values[dq.input[1]] == values[quant.input[1]] and values[dq.input[2]] == values[quant.input[2]]

    opts = ort.SessionOptions()
    opts.optimized_model_filepath = str(tmp_path / "m-int8-ort.onnx")
    ort.InferenceSession(dst, opts, providers=["CPUExecutionProvider"])
    g = onnx.load(opts.optimized_model_filepath).graph
    ops = [n.op_type for n in g.node]
    values = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    assert ops.count("QuantizeLinear") == 1 and ops.count("DequantizeLinear") == 3, ops
    assert ops.count("QLinearConv") == 63 and ops.count("QLinearSigmoid") == ops.count("QLinearMul") == 57
    assert "Conv" not in ops and ops.count("Sigmoid") == 1  # the one fp32 Sigmoid: class scores, in the tail
    fused = [n for n in g.node if n.op_type == "QLinearConcat"]
    assert len(fused) == 16
    for n in fused:  # inputs: y_scale, y_zero_point, then (x, x_scale, x_zero_point) per input
        for k in range(2, len(n.input), 3):
            assert values[n.input[k + 1]] == values[n.input[0]] and values[n.input[k + 2]] == values[n.input[1]]


def test_int8_accuracy_is_measured_like_validation_and_layers_ranked(tmp_path):
    loaded = load_any(DEMO)  # trained: GhostNet-lite on shapes, 256 px
    ds = val_set("shapes", loaded.imgsz, max_images=24)
    model = loaded.model.eval()
    with torch.inference_mode():
        torch_map = evaluate(lambda x: model(torch.from_numpy(x)).numpy(), model, ds)
    report = deploy(loaded, str(tmp_path / "g.onnx"), opts=DeployOptions(int8=True, calib=8, runs=2, val_images=24,
                                                                          sensitivity=False))
    fp32, q = report.targets
    assert abs(fp32["mAP50"] - torch_map["mAP50"]) < 0.005 and fp32["mAP50"] > 0.3  # the same numbers as PyTorch
    assert q["mAP50"] > fp32["mAP50"] - 0.1 and q["bytes"] < 0.5 * fp32["bytes"]
    assert q["median_ms"] > 0 and report.accuracy_data["images"] == 24
    assert read_metadata(q["path"])["args"]["int8"] is True and read_metadata(q["path"])["names"][0] == "circle"
    reader = ImageReader(calibration_paths("shapes", 4), loaded.imgsz)
    seen = []
    rows = layer_sensitivity(fp32["path"], reader, lambda p: seen.append(p) or -len(seen), top=2, layers=[0, 1, 2])
    assert [r["layer"] for r in rows] == [2, 1] and len(seen) == 3  # lowest score first, the top 2 of 3 layers


@pytest.mark.parametrize("flags, says", [(["--int8", "--format", "unknown"], "--format must be one of onnx, openvino"),
                                         (["--int8", "--calib", "0"], "--calib must be 1..10000"),
                                         (["--int8", "--data", "missing/data.yaml"], "dataset yaml not found")])
def test_bad_export_flags_are_one_line_and_exit_2(flags, says, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert launch.main(["export", "yolov8n", "--imgsz", "64", "--out", str(out), *flags]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("note:")]
    assert len(err) == 1 and says in err[0] and err[0].startswith("error:")
    assert not out.exists()  # refused before anything was written


def test_export_tab_panel_exports_measures_and_refuses_bad_input():
    from app.export_deploy import run_deploy
    from graph.source import source

    design = {"yaml": source("yolov5n").yaml(imgsz=64), "name": "yolov5n"}
    rows, notes, files, message = run_deploy(design, "Current design (untrained)", 64, "ONNX + OpenVINO IR", True,
                                             4, "shapes")
    assert [r[0] for r in rows] == ["ONNX fp32", "ONNX int8", "OpenVINO fp32", "OpenVINO int8"]
    assert all(r[2] > 0 and r[4] is None for r in rows)  # timed; an untrained design is not scored
    assert "onnxslim" in notes and "calibration images" in notes and 'class="yld-ok"' in message
    assert [os.path.splitext(f)[1] for f in files] == [".onnx", ".onnx", ".zip", ".zip"]
    assert all(os.path.getsize(f) > 0 for f in files)
    for bad, says in (((64, "ONNX", True, 0, "shapes"), "Calibration images 0"),
                      ((70, "ONNX", True, 4, "shapes"), "Export image size 70"),
                      ((64, "TFLite", False, 4, "shapes"), "--format must be one of")):
        out = run_deploy(design, "Current design (untrained)", *bad)
        assert says in out[3] and all(o == {"__type__": "update"} for o in out[:3])  # table, notes, files stay


def test_a_checkpoint_of_another_dataset_is_not_scored_on_shapes(tmp_path):
    from engine.checkpoint import save_checkpoint
    from engine.deploy.export import ExportError

    loaded = design("yolov5n")  # 80 classes; shapes has 4
    ckpt = save_checkpoint(str(tmp_path / "coco.pt"), loaded.model, loaded.yaml, imgsz=64)
    report = deploy(load_any(ckpt), str(tmp_path / "c.onnx"), opts=DeployOptions(int8=True, calib=2, runs=1))
    assert not report.accuracy_data and all(t["mAP50"] is None for t in report.targets)
    assert any("shapes has 4 classes, the model 80: no mAP measured" in n for n in report.notes)
    with pytest.raises(ExportError, match="give the model's dataset with --data"):
        deploy(load_any(ckpt), str(tmp_path / "d.onnx"), opts=DeployOptions(evaluate=True))
    assert not (tmp_path / "d.onnx").exists()
