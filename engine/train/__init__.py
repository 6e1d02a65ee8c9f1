"""Training: the trainer and its config (`trainer.py`), its optimizer (`optim.py`), the losses
(`loss.py`) with their assigner (`assigner.py`) and box helpers (`boxes.py`), the weights' EMA
(`ema.py`), validation mAP (`metrics.py`), the trainer's event subscribers (`progress.py`) and
training jobs for the page (`jobs.py`)."""
