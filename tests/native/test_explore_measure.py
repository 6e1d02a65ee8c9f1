"""Measured latency reaches Explore (onnxruntime, really timed; no time is asserted): `info --latency` of a
preset is remembered under its design's key and shows on the Explore row of the same composition, and
`explore --measure-front` times each design on the front of a filter that keeps one tiny design at 64 px,
then prints the table with its latency."""
from __future__ import annotations

import json

import pytest

import launch
from engine.deploy import latency_store as store

TINY = ["--backbone", "shufflenetv2", "--neck", "lite-pan", "--head", "yolov5", "--scale", "n", "--kind", "composed",
        "--imgsz", "64", "--nc", "80"]


@pytest.fixture(autouse=True)
def quick(quick_probe):
    """A scratch $YLD_CACHE (the store's file lives there) and a short machine probe."""


def test_info_latency_shows_on_the_explore_row_of_the_same_design(capsys):
    assert launch.main(["info", "yolov8n", "--imgsz", "64", "--latency", "--threads", "1", "--json"]) == 0
    measured = json.loads(capsys.readouterr().out)["latency"]
    assert launch.main(["explore", "--backbone", "yolov8", "--neck", "yolov8-pan", "--head", "yolov8", "--scale", "n",
                        "--kind", "composed", "--imgsz", "64", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    assert row["name"] == "yolov8-yolov8-pan-yolov8-n"  # the preset yolov8n, composed
    assert row["latency_ms"] == round(measured["median_ms"], 3)
    assert (row["latency"]["backend"], row["latency"]["threads"], row["latency"]["cpu"]) == ("onnx", 1, measured["cpu"])
    assert row["latency"]["p90_ms"] == measured["p90_ms"]


def test_measure_front_times_each_design_and_prints_its_latency(capsys):
    assert launch.main(["explore", *TINY, "--measure-front", "--budget-s", "0.3", "--threads", "1", "--json"]) == 0
    out = capsys.readouterr()
    (row,) = json.loads(out.out)["rows"]
    assert row["pareto"] and row["latency_ms"] is not None and row["latency_ms"] > 0
    assert row["latency"]["backend"] == "onnx" and row["latency"]["threads"] == 1
    assert "[1/1] shufflenetv2-lite-pan-yolov5-n ... median" in out.err
    assert [r["key"] for r in store.rows(64)] == [row["key"]]
    assert launch.main(["explore", *TINY]) == 0  # the text table, from the store alone
    line = next(x for x in capsys.readouterr().out.splitlines() if "shufflenetv2-lite-pan-yolov5-n" in x)
    assert line.rstrip().endswith("onnx/1")
