"""Explore with measured latency: `launch.py explore --json / --csv / text` carry each design's newest
latency measured on this machine at that size (null when never), `--measure-front` stops on Ctrl-C keeping
what was measured, and the Explore tab rings the measured points, lists their latency in the table and
plots latency vs GFLOPs. Records are written through the store's API (engine/deploy/latency_store.py);
the real measuring (onnxruntime) is tested in tests/native/test_explore_measure.py."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys

import pytest

import launch
from app import explore_tab
from engine.deploy import latency_store as store
from engine.deploy import measure
from graph import explore as space
from graph.designkey import design_key

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILTER = ["--backbone", "shufflenetv2", "--neck", "lite-pan", "--scale", "n", "--kind", "composed", "--imgsz", "64",
          "--nc", "3"]
SMALL = space.Scope(backbones=("ghostnet", "yolov8"), necks=("lite-pan",), heads=("yolov5", "yolov8"),
                    scales=("n", "s"))


@pytest.fixture
def scratch(monkeypatch, tmp_path):
    monkeypatch.setenv("YLD_CACHE", str(tmp_path))
    return tmp_path


def run(*args, cache):
    env = {**os.environ, "YLD_CACHE": str(cache)}
    return subprocess.run([sys.executable, "launch.py", "explore", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=env)


def test_cli_rows_carry_the_latency_where_measured(scratch):
    p = run(*FILTER, "--json", cache=scratch)
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)["rows"]
    assert len(rows) == 4 and all(r["latency_ms"] is None and r["latency"] is None for r in rows)
    one = rows[0]
    assert store.record(one["key"], 64, "openvino", 2, 3.25, 4.0)
    assert store.record(one["key"], 96, "onnx", 1, 9.0, 9.0)  # another size: not shown at 64
    p = run(*FILTER, "--json", cache=scratch)
    got = {r["name"]: r for r in json.loads(p.stdout)["rows"]}
    assert got[one["name"]]["latency_ms"] == 3.25
    assert (got[one["name"]]["latency"]["backend"], got[one["name"]]["latency"]["threads"]) == ("openvino", 2)
    assert sum(r["latency_ms"] is not None for r in got.values()) == 1
    p = run(*FILTER, "--csv", cache=scratch)
    table = {r["name"]: r for r in csv.DictReader(io.StringIO(p.stdout))}
    assert table[one["name"]]["latency_ms"] == "3.25" and table[one["name"]]["latency_backend"] == "openvino"
    assert {r["latency_ms"] for n, r in table.items() if n != one["name"]} == {""}
    p = run(*FILTER, cache=scratch)
    line = next(x for x in p.stdout.splitlines() if one["name"] in x)
    assert line.rstrip().endswith("3.25 openvino/2") and "1 of them measured" in p.stdout


def test_ctrl_c_stops_measuring_and_keeps_what_was_measured(scratch, monkeypatch, capsys):
    calls = []

    def fake_measure(design, imgsz, per_layer, backend="onnx", threads=None, budget_s=10.0, machine=True):
        calls.append(design.spec.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        key = design_key(design.spec)
        store.record(key, imgsz, backend, 1, 2.5, 3.0, name=design.spec.name)  # as measure.py records
        return {"median_ms": 2.5, "p90_ms": 3.0, "threads": 1}

    monkeypatch.setattr(measure, "measure_design", fake_measure)
    assert launch.main(["explore", *FILTER, "--measure-front", "--json"]) == 130
    out = capsys.readouterr()
    rows = json.loads(out.out)["rows"]
    assert len(calls) == 2 and "stopped: 1 of 4 measured" in out.err and "[1/4]" in out.err
    assert [r["name"] for r in rows if r["latency_ms"] == 2.5] == [calls[0]]
    first = min((r for r in rows if r["pareto"]), key=lambda r: r["params"])
    assert first["name"] == calls[0]  # the front is measured fewest parameters first


def test_bad_measure_options_are_one_line_and_exit_2(scratch):
    p = run(*FILTER, "--measure-front", "--budget-s", "0", cache=scratch)
    assert p.returncode == 2 and "budget-s" in p.stderr and "more than 0" in p.stderr
    p = run(*FILTER, "--measure-front", "--backend", "torch", "--threads", "-3", cache=scratch)
    assert p.returncode == 2 and p.stderr.strip() == "error: threads must be a whole number of at least 1, got -3"


def test_the_tab_rings_measured_points_and_lists_their_latency(scratch, monkeypatch):
    monkeypatch.setattr(explore_tab, "explore", lambda imgsz, nc: space.explore(imgsz, nc, SMALL))
    ex = explore_tab.on_explore(320, 4, "all", "all", "all", "all")[-1]
    _, svg, plot, table = explore_tab.view(ex)
    assert 'class="ring"' not in svg and "None of these designs measured" in plot
    assert "0 measured" in svg
    a, b = ex["rows"][0], ex["rows"][-1]
    store.record(a["key"], 320, "onnx", 2, 41.2, 45.0)
    store.record(b["key"], 320, "torch", 1, 7.5, 8.0)
    store.record(ex["rows"][1]["key"], 640, "onnx", 2, 1.0, 1.0)  # another size
    _, svg, plot, table = explore_tab.view(ex)  # read again: no new Explore needed
    ringed = re.findall(r'<g class="pt[^"]* measured" data-i="(\d+)"', svg)
    assert sorted(map(int, ringed)) == [0, len(ex["rows"]) - 1] and svg.count('class="ring"') == 2
    assert "2 measured" in svg and "latency measured" in svg  # the title and the legend
    assert sorted(map(int, re.findall(r'<g class="pt[^"]*" data-i="(\d+)"', plot))) == [0, len(ex["rows"]) - 1]
    cells = dict(re.findall(r'<tr data-i="(\d+)"(?:(?!</tr>).)*<span class="yld-latency" title="[^"]*">([^<]*)</span>',
                            table))
    assert cells == {"0": "41.2 (onnx, 2 thr)", str(len(ex["rows"]) - 1): "7.5 (torch, 1 thr)"}
    assert "<th>latency ms</th>" in table
    _, svg, plot, _ = explore_tab.view(ex, "all", "all", "yolov5", "all")  # a filter: only what it keeps
    heads = {r["name"]: r["head"] for r in ex["rows"]}
    assert svg.count('class="ring"') == sum(heads[r["name"]] == "yolov5" for r in (a, b))


def test_measure_the_front_button_times_each_design_in_the_child_process(scratch, monkeypatch):
    from app import explore_measure

    one = space.Scope(backbones=("shufflenetv2",), necks=("lite-pan",), heads=("yolov5",), scales=("n",),
                      recipes=False)
    monkeypatch.setattr(explore_tab, "explore", lambda imgsz, nc: space.explore(imgsz, nc, one))
    monkeypatch.setattr(explore_measure, "BUDGET_S", 0.3)
    ex = explore_tab.on_explore(64, 3, "all", "all", "all", "all")[-1]
    steps = list(explore_measure.on_measure_front(ex, "all", "all", "all", "all", "onnx"))
    assert "Measuring 1 of 1: <b>shufflenetv2-lite-pan-yolov5-n</b>" in steps[0][0]
    _, svg, plot, table = steps[1]  # drawn again after the design: ringed, plotted, listed
    assert svg.count('class="ring"') == 1 and plot.count('<g class="pt') == 1 and "(onnx, " in table
    assert "Measured the 1 of 1 designs" in steps[-1][0]
    (rec,) = store.rows(64)  # remembered by the child process, under the row's key
    assert rec["key"] == ex["rows"][0]["key"] and rec["backend"] == "onnx"


def test_measure_the_front_says_which_designs_failed(scratch, monkeypatch):
    from app import explore_measure
    from engine.deploy.isolated import IsolatedError

    monkeypatch.setattr(explore_tab, "explore", lambda imgsz, nc: space.explore(imgsz, nc, SMALL))
    ex = explore_tab.on_explore(320, 4, "all", "all", "all", "all")[-1]
    replies = iter([IsolatedError("Measuring stopped: the measuring process crashed (SIGSEGV)", "crashed"),
                    {"error": "openvino is not installed"}])

    def fake(target, kwargs, job):
        reply = next(replies, {})
        if isinstance(reply, Exception):
            raise reply
        return reply

    monkeypatch.setattr(explore_measure, "run_isolated", fake)
    steps = list(explore_measure.on_measure_front(ex, "all", "all", "all", "all", "onnx"))
    front = sum(r["pareto"] for r in ex["rows"])
    assert len(steps) == 2 * front + 1
    last = steps[-1][0]
    assert f"Measured the {front - 2} of {front} designs" in last
    assert "crashed (SIGSEGV)" in last and "openvino is not installed" in last
    assert "Press Explore first" in next(explore_measure.on_measure_front(None, "all", "all", "all", "all", "onnx"))[0]
