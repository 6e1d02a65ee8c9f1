"""The Design tab's layer inspector (app/inspector.py), called as the page calls it: select a layer
(list, graph click, table row), change its block and arguments with a preview, apply, undo, insert and
delete; the form follows the design when it changes."""
import re
from html import unescape
from types import SimpleNamespace

import pytest

from app import edit_panel as e
from app import handlers as h
from app import inspector as ins
from app.layer_table import table_html
from graph.source import source

# outputs of on_select / on_node: selection, layer list, block list, n, fields ..., graph, table, row, message
SEL, LAYER, BLOCK, N = range(4)
FIELDS = slice(4, 4 + ins.MAX_FIELDS)
GRAPH, TABLE, ROW, MSG = (4 + ins.MAX_FIELDS + k for k in range(4))
# outputs of apply / insert / delete: the edit panel's 10, then the inspector's message and the selection
STATE, PANEL_MSG, UNDO = 5, 7, 8
EMPTY = [""] * ins.MAX_FIELDS


def state_of(preset: str) -> dict:
    text = h.preset_yaml(preset)[1]
    first = h.evaluate(text, 640, preset)
    return {"yaml": text, "counts": first["counts"], "name": first["name"], "pins": []}


@pytest.fixture
def v8n():
    return state_of("yolov8n")


def selected(out: tuple) -> list[int]:
    """The layer the graph and the table highlight (their `selected` prop: marked in the page)."""
    marks = {out[GRAPH]["selected"], out[TABLE]["selected"]}
    assert len(marks) == 1 and out[GRAPH]["__type__"] == "update" and "value" not in out[GRAPH]  # no SVG sent
    return [m for m in marks if m is not None]


def test_selecting_a_layer_fills_the_form_from_the_schema_and_highlights_it(v8n):
    out = ins.on_select(1, 640, v8n)
    assert out[SEL] == 1 and out[LAYER]["value"] == 1 and out[LAYER]["choices"][1] == ("1 Conv [128, 3, 2]", 1)
    assert out[BLOCK]["value"] == "Conv" and {"GSConv", "GhostConv", "RepVGGBlock"} <= {c[1] for c in out[BLOCK]["choices"]}
    assert out[N]["value"] == 1
    fields = out[FIELDS]
    assert [f["visible"] for f in fields] == [True] * 7 + [False]
    assert fields[0]["label"].startswith("c2 (int") and fields[0]["value"] == "128" and fields[0]["placeholder"] == "required"
    assert fields[3]["value"] == "" and fields[3]["placeholder"] == "default None"
    assert selected(out) == [1]
    assert out[ROW]["value"] == "[-1, 1, Conv, [128, 3, 1]]"  # keeps layer 1's 32 channels at width 0.25
    again = ins.on_select(4, 640, v8n)
    assert selected(again) == [4]  # the highlight moves


def test_a_graph_click_and_a_table_row_select_the_same_way(v8n):
    """Both trigger their click with the layer's index (app/graph_view.py, app/layer_table.py)."""
    node = ins.on_node(640, v8n, SimpleNamespace(_data={"index": 5}))
    assert node[SEL] == 5 and node[BLOCK]["value"] == "Conv" and selected(node) == [5]
    table = h.evaluate(v8n["yaml"], 640)["table"]
    assert [int(i) for i in re.findall(r'<tr data-index="(\d+)"', table_html(table))] == list(range(len(table)))
    assert ins.on_node(640, v8n, SimpleNamespace(_data=None))[SEL] is None  # a click with no index: nothing


def test_another_block_previews_then_applies_and_undo_gives_back_the_text(v8n):
    blk = ins.on_block(1, "GSConv", 640, v8n)
    texts = [f["value"] if f.get("visible") else "" for f in blk[1:1 + ins.MAX_FIELDS]]
    assert texts[:3] == ["128", "3", "2"] and "carried c2, k, s" in blk[-1]
    preview = unescape(ins.on_preview(1, "GSConv", 1, *texts, 640, v8n))
    before = h.evaluate(v8n["yaml"], 640)["counts"]["params"]
    assert "Preview — layer 1 Conv -> GSConv edited: −" in preview and "params" in preview
    assert h.evaluate(v8n["yaml"], 640)["counts"]["params"] == before  # nothing applied
    out = ins.on_apply(1, "GSConv", 1, *texts, 640, v8n)
    st = out[STATE]
    assert "GSConv, [128, 3, 2]" in st["yaml"] and st["counts"]["params"] < before and out[-1] == 1
    assert st["undo"][-1]["yaml"] == v8n["yaml"] and "layer 1 Conv -> GSConv edited: 1 layer" in st["undo"][-1]["label"]
    assert "Applied layer 1 Conv -&gt; GSConv edited" in out[-2]
    back = e.on_undo(640, st)
    assert back[0] == v8n["yaml"]


def test_an_argument_edit_and_a_bad_value_are_previewed_and_refused_with_the_cause(v8n):
    texts = ["128", "5", "2"] + [""] * (ins.MAX_FIELDS - 3)  # k 3 -> 5
    assert "Preview — layer 1 Conv edited: +" in ins.on_preview(1, "Conv", 1, *texts, 640, v8n)
    bad = ["128", "[3", "2"] + [""] * (ins.MAX_FIELDS - 3)
    assert "k:" in ins.on_preview(1, "Conv", 1, *bad, 640, v8n)
    refused = ins.on_apply(1, "Conv", 1, *["128", "3", "9"] + [""] * 5, 640, v8n)
    assert refused[-1] == 1 and "yld-error" in refused[-2] and "yaml" not in refused[STATE]
    unchanged = ins.on_preview(1, "Conv", 1, *["128", "3", "2"] + [""] * 5, 640, v8n)
    assert "No change yet" in unchanged


def test_insert_after_and_before_select_the_new_layer_and_delete_takes_it_back(v8n):
    n = len(source(text=v8n["yaml"]).spec.layers)
    out = ins.on_insert(1, "[-1, 1, Conv, [128, 3, 1]]", False, 640, v8n)
    st = out[STATE]
    spec = source(text=st["yaml"]).spec
    assert len(spec.layers) == n + 1 and spec.layers[2].module == "Conv" and out[-1] == 2
    gone = ins.on_delete(2, 640, st)
    assert source(text=gone[STATE]["yaml"]).spec == source(text=v8n["yaml"]).spec and gone[-1] == 1
    before = ins.on_insert(1, "[-1, 1, Conv, [64, 3, 1]]", True, 640, v8n)  # before layer 1: reads layer 0
    assert source(text=before[STATE]["yaml"]).spec.layers[1].args == (64, 3, 1) and before[-1] == 1


def test_a_delete_that_would_orphan_a_reader_is_refused_naming_it(v8n):
    out = ins.on_delete(4, 640, v8n)  # yolov8n's P3 C2f: the neck's Concat reads it by index
    assert "yaml" not in out[STATE] and "cannot delete" in out[-2] and "Concat" in out[-2]


def test_the_form_follows_the_design(v8n):
    out = ins.on_apply(2, "C2f", 1, *["128", "True"] + [""] * 6, 640, v8n)  # n 3 -> 1
    refreshed = ins.on_refresh(2, 640, out[STATE])
    assert refreshed[SEL] == 2 and refreshed[N]["value"] == 1 and selected(refreshed) == [2]
    small = state_of("yolov5-shufflenetv2")
    gone = ins.on_refresh(30, 640, small)  # past the end of the new design: nothing selected
    assert gone[SEL] is None and gone[LAYER]["value"] is None and selected(gone) == []
    # nothing selected before or now: only the Layer list follows the design, the empty form is left alone
    quiet = ins.on_refresh(None, 640, small)
    assert quiet[SEL] is None and quiet[LAYER]["choices"] == gone[LAYER]["choices"] and quiet[LAYER]["value"] is None
    assert all(x == {"__type__": "update"} for x in quiet[BLOCK:])


def test_a_typed_or_stale_pick_gets_a_message_not_a_crash(v8n):
    assert ins.on_select("4 C2f ×2 [64, True]", 640, v8n)[SEL] == 4  # typed text: its number
    assert ins.on_select("nothing", 640, v8n)[SEL] is None
    out = ins.on_block(1, "NoSuchBlock", 640, v8n)
    assert "NoSuchBlock" in out[-1] and "yld-inspect-error" in out[-1]
    assert "NoSuchBlock" in ins.on_preview(1, "NoSuchBlock", 1, *[""] * ins.MAX_FIELDS, 640, v8n)
    assert "yld-error" in ins.on_delete(99, 640, v8n)[-2]


@pytest.mark.parametrize("n", [0, 100, "lots"])
def test_out_of_range_repeats_are_said_in_the_message(n):
    """n outside 1..64 (or not a number) is refused in the inspector's message, not by a toast."""
    _, text = h.preset_yaml("yolov8n")
    st = {"yaml": text, "name": "yolov8n"}
    html = ins.on_preview(2, "C2f", n, *[""] * ins.MAX_FIELDS, 640, st)
    assert "n must be" in str(html)
