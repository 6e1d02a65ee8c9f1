"""The Design tab's Measure panel (app/measure_panel.py), called as the page calls it: the design in
the session state measured at the page's image size, the result panel, the per-layer numbers kept in
the state, a pin that carries its latency and the latency-vs-GFLOPs plot. No timing is asserted."""
from __future__ import annotations

import re

import pytest

from app import design_tab as d
from app import handlers as h
from app import measure_panel as mp


@pytest.fixture(autouse=True)
def quick(monkeypatch, quick_probe):
    monkeypatch.setattr(mp, "BUDGET_S", 0.3)


@pytest.fixture
def state():
    _, text = h.preset_yaml("yolov8n")
    first = h.evaluate(text, 64, "yolov8n")
    return {"yaml": text, "counts": first["counts"], "name": first["name"], "pins": []}


def test_measure_shows_the_result_and_keeps_it_in_the_state(state):
    html, st = mp.on_measure(64, "onnx", 1, state)
    assert 'id="latency-result"' in html and 'id="latency-bars"' in html and 'id="roofline"' in html
    assert "median" in html and "p90" in html and "1 thread" in html and "estimate" in html
    layers = len(h.evaluate(state["yaml"], 64, "yolov8n")["counts"]["per_layer"])
    # two bars a layer: its share of the measured time, its share of the FLOPs
    assert html.count('class="yld-bar-pair"') == layers
    assert html.count('data-kind="latency"') == layers == html.count('data-kind="flops"')
    assert 'data-device="this"' in html and "Raspberry Pi 4" in html
    kept = st["latency"]
    assert kept["yaml"] == state["yaml"] and kept["imgsz"] == 64 and kept["threads"] == 1
    assert set(kept["layer_ms"]) <= set(range(layers)) and layers - 1 in kept["layer_ms"]  # keyed by layer index
    median = float(re.search(r'data-median-ms="([\d.]+)"', html).group(1))
    assert median == pytest.approx(kept["median_ms"], abs=1e-3) and median > 0


def test_a_pin_carries_its_latency_only_when_measured(state):
    rows, plot, _, _, st = d.on_pin(state, 64)
    col = h.PIN_COLUMNS.index("latency ms")
    assert rows[0][col] == "" and 'class="pin"' not in mp.on_pins(st)  # not measured: empty, not plotted
    _, st = mp.on_measure(64, "onnx", 1, st)
    assert mp.measured_ms(st, 64) == round(st["latency"]["median_ms"], 2)
    assert mp.measured_ms(st, 128) == ""  # another size: the measurement is not of that
    rows, plot, _, csv, st = d.on_pin(st, 64)
    assert rows[1][col] == round(st["latency"]["median_ms"], 2)
    assert "latency ms" in open(csv).read().splitlines()[0]
    latency_plot = mp.on_pins(st)
    assert latency_plot.count('class="pin"') == 1 and "yolov8n (2)" in latency_plot


def test_a_measurement_of_another_design_is_not_pinned(state):
    _, st = mp.on_measure(64, "torch", 1, state)
    edited = {**st, "yaml": h.preset_yaml("yolov5n")[1], "name": "yolov5n"}
    assert mp.measured_ms(edited, 64) == ""


def test_a_size_the_model_cannot_take_says_why(state):
    html, st = mp.on_measure(70, "onnx", 1, state)
    assert "not a multiple" in html
    assert isinstance(st, dict) and st.get("__type__") == "update"  # the state is left as it was


def test_the_layer_table_gains_ms_and_time_share_once_measured(state):
    """After Measure the layer table shows each layer's ms and share of the time; another design, or
    the same at another size, shows none (its numbers were not measured)."""
    assert mp.latency_columns(state, state["yaml"], 64) is None
    _, st = mp.on_measure(64, "onnx", 1, state)
    svg, table, st2 = mp.on_measured_table(64, st)
    assert "<th" in table and ">ms<" in table and ">time %<" in table
    plain = h.evaluate(st["yaml"], 64, "yolov8n")
    assert svg.count('<rect class="time"') == len(plain["table"])  # a time bar on every layer's node
    assert "share of the measured time" in svg and 'class="time"' not in plain["svg"]
    cols = mp.latency_columns(st, st["yaml"], 64)
    assert set(cols["ms"]) == set(int(k) for k in st["latency"]["layer_ms"])
    assert sum(float(v) for v in cols["time %"].values()) == pytest.approx(100, abs=0.5)
    assert st2["drawn"] == [hash(svg), hash(table)]
    assert mp.latency_columns(st, st["yaml"], 128) is None
    assert mp.latency_columns(st, st["yaml"] + "\n# edited\n", 64) is None
    # a design change keeps the columns only for the measured design
    out = d._outputs_for(h.evaluate(st["yaml"], 64, "yolov8n"), st["yaml"], {**st, "drawn": None}, 64)
    assert ">time %<" in out[2] and 'class="time"' in out[1]  # the graph keeps its time bars too
