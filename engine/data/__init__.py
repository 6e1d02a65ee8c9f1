"""Detection data: data.yaml reading (`config.py`), YOLO labels, the `YoloDataset` and its DataLoader
(`dataset.py`), augmentation (`augment.py`), the built-in synthetic `shapes` set (`synthetic.py`) and
uploaded dataset zips (`zipdata.py`)."""
