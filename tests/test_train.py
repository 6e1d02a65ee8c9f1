"""The trainer end to end on tiny data: a run writes checkpoints that predict loads, resume repeats
an uninterrupted run exactly, and two CPU processes under torchrun step in lockstep."""
import json
import os
import subprocess
import sys

import pytest
import torch

from engine.checkpoint import load_checkpoint
from engine.data.synthetic import ensure_shapes
from engine.train.trainer import Events, TrainConfig, Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ensure_shapes(root=str(tmp_path_factory.mktemp("shapes")), n_train=8, n_val=4, imgsz=64, seed=1)


def config(tmp, data, **kw):
    base = dict(preset="yolov8n", data=data, epochs=1, imgsz=64, batch=4, project=str(tmp), name="exp",
                close_mosaic=0, warmup_epochs=0.0)
    return TrainConfig(**{**base, **kw})


def test_one_epoch_writes_checkpoints_predict_loads(tiny, tmp_path):
    seen = []
    events = Events()
    events.on("*", seen.append)
    result = Trainer(config(tmp_path, tiny), events).fit()
    kinds = [e["event"] for e in seen]
    assert kinds[0] == "fit_start" and kinds[-1] == "fit_end" and "epoch_end" in kinds
    assert kinds.count("batch_end") == 2  # 8 images, batch 4
    batch = next(e for e in seen if e["event"] == "batch_end")
    assert set(batch["loss"]) == {"box", "cls", "dfl"} and batch["lr"] > 0 and batch["images_per_s"] > 0
    epoch = next(e for e in seen if e["event"] == "epoch_end")
    assert set(epoch["metrics"]) >= {"mAP50", "mAP50-95", "precision", "recall"}
    for name in ("best.pt", "last.pt"):
        raw = torch.load(os.path.join(result["save_dir"], name), weights_only=True)
        assert raw["names"] == ["circle", "square", "triangle", "cross"] and raw["imgsz"] == 64
    loaded = load_checkpoint(result["best"])
    assert loaded.model.nc == 4 and loaded.trained
    out = subprocess.run([sys.executable, "launch.py", "predict", "--weights", result["best"], "--source",
                          os.path.join(os.path.dirname(tiny), "images", "val"), "--imgsz", "64", "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["trained"] and len(json.loads(out.stdout)["results"]) == 4


def test_resume_continues_exactly(tiny, tmp_path):
    straight = Trainer(config(tmp_path / "a", tiny, epochs=2, preset="yolov5n")).fit()
    first = Trainer(config(tmp_path / "b", tiny, epochs=1, preset="yolov5n")).fit()
    resumed = Trainer(config(tmp_path / "b", tiny, epochs=2, resume=first["last"])).fit()
    assert resumed["save_dir"] == first["save_dir"]
    a = torch.load(straight["last"], weights_only=True)
    b = torch.load(resumed["last"], weights_only=True)
    assert a["meta"]["epoch"] == b["meta"]["epoch"] == 1
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    assert straight["weights_sha256"] == resumed["weights_sha256"]


def test_bad_data_is_a_clear_cli_error(tmp_path):
    p = subprocess.run([sys.executable, "launch.py", "train", "--data", str(tmp_path / "nope.yaml"), "--epochs", "1"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "nope.yaml" in p.stderr


def test_torchrun_two_cpu_processes_identical_weights(tiny, tmp_path):
    events = tmp_path / "ev.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                        str(29500 + os.getpid() % 1000), "launch.py", "train", "--preset", "yolov8n",
                        "--data", tiny, "--epochs", "1", "--imgsz", "64", "--batch", "4", "--project", str(tmp_path),
                        "--events", str(events), "--close-mosaic", "0"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    ranks = {}
    for path in (events, tmp_path / "ev.jsonl.rank1"):
        lines = [json.loads(line) for line in open(path)]
        assert any(e["event"] == "batch_end" for e in lines), path  # this rank stepped
        end = next(e for e in lines if e["event"] == "fit_end")
        ranks[end["rank"]] = end["weights_sha256"]
    assert set(ranks) == {0, 1} and ranks[0] == ranks[1]
    assert os.path.exists(os.path.join(tmp_path, "exp", "best.pt")) and not os.path.exists(tmp_path / "exp2")
