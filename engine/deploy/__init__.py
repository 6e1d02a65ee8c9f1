"""Deployment: export to ONNX (`export.py`), the export pack for YOLOv5 / Ultralytics users
(`pack.py`), Netron's viewer for an export (`viewer.py`), the predictor with letterbox, decode, NMS
and drawing (`predictor.py`), and running a model's torch and ONNX predictors on images with their
latency (`run.py`)."""
