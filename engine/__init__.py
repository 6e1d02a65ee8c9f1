"""Jobs on a model, in rooms: `data/` (datasets), `train/` (the trainer and what it needs), `deploy/`
(export, export pack, Netron viewer, predictors). At this level, what the rooms share: the checkpoint
format (`checkpoint.py`), the one way to load a model (`loading.py`), safe image reading and the one
letterbox (`images.py`), the head table (`heads.py`: what differs between head families, one row per
head class), and the server's disk housekeeping (`housekeeping.py`). Never imports gradio."""
