"""The per-layer memo of graph/layercost.py: a count made from remembered layer numbers equals one made
from scratch and one made the old way, on the whole model (built on the meta device, counted with
graph/flops.py and graph/dead.py directly); a layer that differs in anything misses the memo; the disk
cache carries the numbers to a new process."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest
import torch

from graph import costcache, layercost
from graph.counts import count, yolo_layer_count
from graph.dead import unused
from graph.flops import layer_macs, ultralytics_macs
from graph.layercost import MEMO, layer_key
from graph.model import DetectionModel, count_params
from graph.resolve import resolve
from graph.spec import parse, parse_file
from graph.templates import preset_path, presets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESETS = list(presets())


@pytest.fixture
def cold(monkeypatch):
    """An empty memo and no disk cache: every layer worked out now."""
    monkeypatch.setattr(costcache, "get", lambda key: None)
    MEMO.clear()
    yield
    MEMO.clear()


def graph_of(name: str, imgsz: int = 640):
    return resolve(parse_file(preset_path(name))[0], imgsz)


@pytest.mark.parametrize("name", PRESETS)
def test_memoised_count_equals_cold_count(name, cold):
    graph = graph_of(name)
    first = count(graph).as_dict()
    misses = MEMO.misses
    assert misses > 0
    again = count(graph_of(name)).as_dict()  # a new graph of the same design: every layer remembered
    assert MEMO.misses == misses
    assert again == first


def whole_model(graph) -> dict:
    """The numbers counted on the whole model at once, as graph/counts.py did before the memo."""
    model = DetectionModel(graph, device="meta")
    x = torch.empty(1, graph.spec.ch, graph.imgsz, graph.imgsz, device="meta")
    macs = layer_macs(model, x)
    found = unused(model, x)
    out = {"params": count_params(model), "macs": macs,
           "layers": yolo_layer_count(model, leaves=graph.spec.dialect == "ultralytics"),
           "ul": ultralytics_macs(model, graph.spec.ch, graph.imgsz, graph.max_stride), "dead": found.total}
    model.fuse(found.modules)
    out["fused"] = (count_params(model), sum(layer_macs(model, x)))
    return out


@pytest.mark.parametrize("name, imgsz", [("yolov5s", 640), ("yolov8n", 320), ("yolo11n", 640), ("yolo26n", 640),
                                         ("yolov5-mobilenetv3-small", 640), ("yolov5s-slimneck", 320),
                                         ("yolov5s-repvgg", 640)])
def test_layer_by_layer_equals_whole_model(name, imgsz, cold):
    graph = graph_of(name, imgsz)
    c, ref = count(graph), whole_model(graph)
    assert c.params == ref["params"] and c.layers == ref["layers"] and c.dead_params == ref["dead"]
    assert [row["gflops"] for row in c.per_layer] == [2 * m / 1e9 for m in ref["macs"]]
    assert c.gflops_ultralytics == 2 * ref["ul"] / 1e9
    assert (c.fused_params, c.fused_gflops) == (ref["fused"][0], 2 * ref["fused"][1] / 1e9)


def test_a_changed_argument_misses_the_memo(cold):
    text = open(preset_path("yolov8n")).read()
    before = count(resolve(parse(text)[0], 640))
    seen = MEMO.misses
    changed = text.replace("[-1, 1, Conv, [64, 3, 2]]", "[-1, 1, Conv, [64, 5, 2]]")  # layer 0: a 5x5 stem
    assert changed != text
    after = count(resolve(parse(changed)[0], 640))
    assert MEMO.misses > seen  # worked out anew, not taken for the 3x3
    assert after.per_layer[0]["params"] == 3 * 16 * 25 + 2 * 16
    assert after.per_layer[0]["params"] != before.per_layer[0]["params"]
    assert after.per_layer[0]["gflops"] == pytest.approx(before.per_layer[0]["gflops"] * (3 * 25 + 4) / (3 * 9 + 4))
    assert after.per_layer[1:] == before.per_layer[1:]  # the rest of the design: the same numbers


def test_layer_key_names_everything_a_layer_is_built_from():
    a = graph_of("yolov8n").layers
    b = graph_of("yolov8s").layers
    assert layer_key(a[0], None) != layer_key(b[0], None)  # other channels
    assert layer_key(a[0], None) != layer_key(a[0], "nn.ReLU()")  # another default activation
    assert layer_key(a[-1], None) != layer_key(dataclasses.replace(a[-1], ctor=(3,) + a[-1].ctor[1:]), None)  # nc


def test_an_activation_key_counts_apart(cold):
    text = open(preset_path("yolov5s")).read()
    plain = count(resolve(parse(text)[0], 640))
    leaky = count(resolve(parse("activation: nn.LeakyReLU(0.1)\n" + text)[0], 640))
    assert leaky.params == plain.params and leaky.layers == plain.layers
    assert leaky.as_dict() == count(resolve(parse("activation: nn.LeakyReLU(0.1)\n" + text)[0], 640)).as_dict()


def test_disk_cache_serves_a_new_process(tmp_path):
    """The first process works the layers out and stores them; the second builds nothing."""
    code = ("import json, torch; from graph.counts import count; from graph.layercost import MEMO; "
            "from graph.resolve import resolve; from graph.source import source; "
            "c = count(resolve(source('yolov8n').spec, 640)); "
            "print(json.dumps({'misses': MEMO.misses, 'counts': c.as_dict()}))")
    env = {**os.environ, "YLD_CACHE": str(tmp_path), "PYTHONPATH": ROOT}
    runs = [json.loads(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                                      timeout=300, check=True).stdout) for _ in range(2)]
    assert (tmp_path / "layer-costs.sqlite").exists()
    assert runs[0]["misses"] > 0 and runs[1]["misses"] == 0
    assert runs[0]["counts"] == runs[1]["counts"]
    off = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**env, "YLD_COUNT_CACHE": "off"},
                         capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(off.stdout)["misses"] == runs[0]["misses"]


def test_stored_results_of_other_code_are_not_read(tmp_path, monkeypatch):
    monkeypatch.setenv("YLD_CACHE", str(tmp_path))
    monkeypatch.setattr(costcache, "_state", {"db": None, "tried": False})
    costcache.put("k", [1, 2])
    assert costcache.get("k") == [1, 2]
    costcache._state["db"].close()
    monkeypatch.setattr(costcache, "_state", {"db": None, "tried": False})
    monkeypatch.setattr(costcache, "fingerprint", lambda: "another")
    assert costcache.get("k") is None  # an edited block or counter: its rows are gone
    costcache._state["db"].close()


def test_the_file_keeps_the_newest_rows_up_to_its_bound(tmp_path, monkeypatch):
    monkeypatch.setenv("YLD_CACHE", str(tmp_path))
    monkeypatch.setattr(costcache, "_state", {"db": None, "tried": False})
    monkeypatch.setattr(costcache, "MAX_ROWS", 5)
    for i in range(8):
        costcache.put(f"k{i}", [i])
    costcache.put("k1", [1])  # written again: now among the newest
    assert costcache.get("k0") == [0]  # over the bound only once the file is opened again
    costcache._state["db"].close()
    monkeypatch.setattr(costcache, "_state", {"db": None, "tried": False})
    kept = {f"k{i}" for i in range(8) if costcache.get(f"k{i}") is not None}
    assert kept == {"k5", "k6", "k7", "k1", "k4"}  # k0, k2, k3: the oldest written
    costcache._state["db"].close()


def test_a_stored_value_that_does_not_fit_is_worked_out_again():
    assert layercost._load("fused", [1, 2]) is None
    assert layercost._load("fused", [1, 2, [1, 3, 8, 8]]) == layercost.Fused(1, 2, (1, 3, 8, 8))
