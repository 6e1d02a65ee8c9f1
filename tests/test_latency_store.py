"""The latency store (engine/deploy/latency_store.py): a measurement recorded is found again by its design's
key, the newest record of a design wins, the file keeps the newest KEEP rows, threads can record at once,
a file that cannot be used is tolerated (nothing remembered, nothing raised), and the key a measured
design is filed under (its yaml, graph/designkey.py) is the key of its Explore row."""
from __future__ import annotations

import dataclasses
import os
import threading

import pytest

from engine.deploy import latency_store as store
from engine.deploy.machine import cpu_name
from engine.loading import load_design
from graph import explore as space
from graph.designkey import design_key
from graph.source import Source, source

TINY = space.Scope(backbones=("shufflenetv2",), necks=("lite-pan",), heads=("yolov5", "yolov8"), scales=("n",),
                   recipes=False)


@pytest.fixture(autouse=True)
def scratch(monkeypatch, tmp_path):
    monkeypatch.setenv("YLD_CACHE", str(tmp_path))
    return tmp_path


def test_a_record_is_found_by_key_size_and_machine():
    assert store.rows() == [] and store.newest(640) == {}
    assert store.record("k1", 640, "onnx", 2, 41.25, 44.0, name="a")
    assert store.record("k1", 320, "torch", 1, 11.0, 12.0)
    assert store.record("k2", 640, "onnx", 2, 9.0, 9.5, cpu="another CPU")
    got = store.newest(640)
    assert set(got) == {"k1"}  # k2 was measured on another machine; k1 at 320 is another size
    rec = got["k1"]
    assert (rec["backend"], rec["threads"], rec["median_ms"], rec["p90_ms"], rec["cpu"], rec["name"]) == \
        ("onnx", 2, 41.25, 44.0, cpu_name(), "a")
    assert rec["date"][:2] == "20" and "T" in rec["date"]
    assert store.newest(320)["k1"]["backend"] == "torch"
    assert set(store.newest(640, cpu="another CPU")) == {"k2"}


def test_the_newest_record_wins_whatever_its_backend():
    store.record("k", 640, "onnx", 2, 40.0, 41.0)
    store.record("k", 640, "torch", 1, 90.0, 95.0)
    assert store.newest(640)["k"]["backend"] == "torch"
    store.record("k", 640, "onnx", 2, 38.0, 39.0)
    assert store.newest(640)["k"]["median_ms"] == 38.0


def test_only_the_newest_rows_are_kept(monkeypatch):
    monkeypatch.setattr(store, "KEEP", 5)
    for k in range(8):
        store.record(f"k{k}", 640, "onnx", 1, float(k), float(k))
    assert [r["key"] for r in store.rows()] == [f"k{k}" for k in range(3, 8)]


def test_threads_record_at_once():
    def work(t):
        for k in range(10):
            assert store.record(f"t{t}-{k}", 640, "onnx", 1, 1.0, 1.0)
    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(store.rows()) == 40 == len(store.newest(640))


@pytest.mark.parametrize("spoil", ["not a database", "a folder"])
def test_a_file_that_cannot_be_used_remembers_nothing(spoil):
    path = store.path()
    if spoil == "a folder":
        os.makedirs(path)
    else:
        with open(path, "wb") as fh:
            fh.write(b"these bytes are no sqlite file" * 100)
    assert store.record("k", 640, "onnx", 1, 1.0, 1.0) is False
    assert store.rows() == [] and store.newest(640) == {}
    assert store.with_latency([{"key": "k"}], 640) == [{"key": "k", "latency_ms": None, "latency": None}]


def test_a_measured_design_is_found_by_its_explore_row():
    rows = space.explore(64, 3, TINY).rows
    row = next(r for r in rows if r["head"] == "yolov8")
    spec = dataclasses.replace(space.spec_of(row, 3), name="any name at all")
    loaded = load_design(Source(spec), 64)  # what measure.py is given: its yaml is what is filed
    assert design_key(source(text=loaded.yaml).spec) == row["key"]
    result = {"imgsz": 64, "backend": "onnx", "threads": 2, "median_ms": 1.234, "p90_ms": 1.5, "cpu": cpu_name()}
    assert store.record_measure(loaded, result)
    joined = {r["name"]: r for r in store.with_latency(rows, 64)}
    assert joined[row["name"]]["latency_ms"] == 1.234 and joined[row["name"]]["latency"]["threads"] == 2
    others = [r for name, r in joined.items() if name != row["name"]]
    assert others and all(r["latency_ms"] is None and r["latency"] is None for r in others)
    assert all(r["latency_ms"] is None for r in store.with_latency(rows, 96))  # another size: not measured


def test_the_key_ignores_name_comments_and_layout_but_not_the_design():
    a = source(preset="yolov8n").spec
    text = source(preset="yolov8n").yaml()
    edited = "# my own title\n" + text.replace("nc: 80", "nc:   80   # classes")
    assert design_key(source(text=edited, name="mine").spec) == design_key(a)
    assert design_key(source(preset="yolov8n", nc=3).spec) != design_key(a)
    assert design_key(source(preset="yolov8s").spec) != design_key(a)
