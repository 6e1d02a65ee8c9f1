"""Deployment: export to ONNX (`export.py`; simplified by `simplify.py`, sped up by `rewrite.py`,
self-describing through `metadata.py`), every target of one export — INT8 and OpenVINO, checked,
timed and scored — (`targets.py`, asked through `options.py`; `quantize.py`, `calib.py`,
`openvino_ir.py`, `accuracy.py`), the export pack for YOLOv5 / Ultralytics users
(`pack.py`; the layer builder it ships, `pack_runtime.py`, filled in by `pack_builder.py`), Netron's
viewer for an export (`viewer.py`), the predictor with letterbox, decode, NMS and drawing
(`predictor.py`), and running a model's torch and ONNX predictors on images with their latency
(`run.py`). Measuring a design on this machine (`measure.py`): the timing loop and backends
(`latency.py`), the per-layer profile mapped to yaml layers (`profile.py`), this machine's peaks for
the roofline (`machine.py`)."""
