"""The Design tab's handlers, called as the page calls them (plain data in, page updates out),
without a browser."""
import os

import pytest

from app import design_tab as d
from app import handlers as h
from graph.counts import count
from graph.resolve import resolve
from graph.spec import parse


def skipped(x) -> bool:
    return isinstance(x, dict) and x.get("__type__") == "update" and len(x) == 1


@pytest.fixture
def state():
    picks, text = h.preset_yaml(h.DEFAULT_PRESET)
    first = h.evaluate(text, 640, h.DEFAULT_PRESET)
    return {"yaml": text, "counts": first["counts"], "name": first["name"], "pins": []}


def test_a_picker_change_shows_the_composed_design(state):
    text, summary, svg, table, error, download, new = d.on_picks("ghostnet", "yolov8-pan", "yolov8", "n", 80, 640,
                                                                 state)
    expected = count(resolve(parse(text)[0], 640)).params
    assert new["counts"]["params"] == expected != state["counts"]["params"]
    assert f"{expected:,}" in summary and "params" in summary.lower()
    assert svg.startswith("<svg") and len(table) == len(parse(text)[0].layers)
    assert "ghost" in text.lower() and os.path.basename(download).endswith(".yaml")
    assert new["yaml"] == text and new["pins"] == []


def test_a_picker_change_that_does_not_compose_keeps_the_page(state):
    out = d.on_picks("shufflenetv2", "nowhere", "yolov5", "s", 80, 640, state)
    assert all(skipped(x) for x in out[:4]) and "nowhere" in out[4] and skipped(out[6])


def test_a_bad_yaml_edit_keeps_the_last_good_design(state):
    out = d.on_yaml("nc: 80\nbackbone: [[-1, 1, Nope, [1]]]\nhead: []\n", 640, state)
    assert skipped(out[0]) and "Nope" in out[3] and skipped(out[5])
    good = d.on_yaml(h.preset_yaml("yolov5n")[1], 640, state)
    assert good[5]["counts"]["params"] == 1872157


def test_a_preset_sets_its_pickers_or_leaves_them(state):
    out = d.on_preset("yolov8n", 80, 640, state)
    assert out[:4] == ("yolov8", "yolov8-pan", "yolov8", "n")
    out = d.on_preset("yolov5-mobilenetv3-small", 80, 640, state)  # a file preset: pickers stay
    assert all(skipped(x) for x in out[:4]) and out[-1]["counts"]["params"] == 5235267


def test_pins_get_unique_names_and_can_be_removed(state):
    rows, frame, choices, csv_path, st = d.on_pin(state)
    rows, frame, choices, csv_path, st = d.on_pin(st)
    assert [r[0] for r in rows] == [state["name"], f"{state['name']} (2)"]
    assert list(frame["params (M)"]) == [state["counts"]["params"] / 1e6] * 2
    assert choices["value"] == f"{state['name']} (2)" and open(csv_path).read().count("\n") == 3
    rows, _, choices, csv_path, st = d.on_unpin(state["name"], st)
    assert [r[0] for r in rows] == [f"{state['name']} (2)"] and len(st["pins"]) == 1
    rows, _, _, csv_path, st = d.on_unpin(f"{state['name']} (2)", st)
    assert rows == [] and csv_path is None


def test_upload_reads_only_an_uploaded_file(state, tmp_path):
    from gradio.utils import get_upload_folder

    folder = os.path.join(get_upload_folder(), "design-tab-test")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "my-v5n.yaml")
    with open(path, "w") as fh:
        fh.write(h.preset_yaml("yolov5n")[1])
    out = d.on_upload(path, 640, state)
    assert out[0].startswith(open(path).read()[:20]) and out[-1]["name"] == "my-v5n"
    assert out[-1]["counts"]["params"] == 1872157
    outside = tmp_path / "x.yaml"
    outside.write_text("nc: 1\n")
    out = d.on_upload(str(outside), 640, state)
    assert skipped(out[0]) and "not a file uploaded" in out[4]
