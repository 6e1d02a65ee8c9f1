"""The Design tab's "Edit blocks" panel (app/edit_panel.py), called as the page calls it: recipe, swap,
preview, undo / redo and the history, without a browser."""
import copy
import re

import pytest

from app import design_tab as d
from app import edit_panel as e
from app import handlers as h
from app.api import api_edit
from graph import edit
from graph.source import source

# outputs of apply / undo / redo, in the order build_edit_panel wires them
YAML, SUMMARY, GRAPH, TABLE, ERROR, STATE, HISTORY, MESSAGE, UNDO, REDO = range(10)


def skipped(x) -> bool:
    return isinstance(x, dict) and x.get("__type__") == "update" and len(x) == 1


def without_notes(summary: str) -> str:
    return re.sub(r'<div class="yld-note">.*?</div>', "", summary)


def state_of(preset: str) -> dict:
    text = h.preset_yaml(preset)[1]
    first = h.evaluate(text, 640, preset)
    return {"yaml": text, "counts": first["counts"], "name": first["name"], "pins": []}


@pytest.fixture
def v8n():
    return state_of("yolov8n")


def test_a_recipe_applies_like_a_yaml_edit_and_undo_redo_give_back_the_exact_texts(v8n):
    out = e.on_recipe("ghost", 640, v8n)
    assert len(out) == 10 and (STATE, MESSAGE) == (e.STATE, e.MESSAGE)
    new = out[STATE]
    assert new["counts"]["params"] == 2502908 != v8n["counts"]["params"] == 3157200
    assert out[YAML] == new["yaml"] != v8n["yaml"] and "GhostConv" in new["yaml"]
    assert "2,502,908" in out[SUMMARY] and "vs previous design" in out[SUMMARY]
    assert out[GRAPH].startswith("<svg") and out[ERROR] == '<div class="yld-ok"></div>'
    # the page shows the edited design as a yaml edit of its text shows it (plus the edit's notes)
    typed = d.on_yaml(new["yaml"], 640, v8n)[1:]  # [0] is the editor: skipped, the text needs no repair
    assert typed[1:4] == out[GRAPH:STATE] and typed[4]["counts"] == new["counts"]
    assert without_notes(typed[0]) == without_notes(out[SUMMARY])
    assert '<div class="yld-note">recipe ghost: article 001' in out[SUMMARY]
    # one history line; the edit can be undone, not redone
    assert new["undo"] == [{"yaml": v8n["yaml"], "label": new["undo"][0]["label"]}] and new["redo"] == []
    assert out[HISTORY].count("<li") == 1 and "recipe ghost: 9 layers, −654,292 params" in out[HISTORY]
    assert out[UNDO]["interactive"] is True and out[REDO]["interactive"] is False
    assert new["pins"] == []

    back = e.on_undo(640, new)
    assert back[YAML] == back[STATE]["yaml"] == v8n["yaml"]  # the exact previous text
    assert back[STATE]["counts"] == v8n["counts"]
    assert back[STATE]["undo"] == [] and len(back[STATE]["redo"]) == 1
    assert "yld-hist-undone" in back[HISTORY] and back[UNDO]["interactive"] is False
    assert back[REDO]["interactive"] is True

    again = e.on_redo(640, back[STATE])
    assert again[YAML] == again[STATE]["yaml"] == new["yaml"]
    assert again[STATE]["counts"] == new["counts"] and again[STATE]["redo"] == []
    assert [x["yaml"] for x in again[STATE]["undo"]] == [v8n["yaml"]]


def test_a_new_edit_empties_redo_and_the_history_is_capped(v8n):
    back = e.on_undo(640, e.on_recipe("ghost", 640, v8n)[STATE])[STATE]
    out = e.on_swap("Conv", "GSConv", "neck", "", 640, back)
    assert out[STATE]["redo"] == [] and len(out[STATE]["undo"]) == 1
    assert out[STATE]["undo"][0]["label"].startswith("swap Conv -> GSConv in neck: 2 layers, −")
    assert "swap Conv -&gt; GSConv in neck: 2 layers" in out[HISTORY]
    long = {**v8n, "undo": [{"yaml": v8n["yaml"], "label": f"edit {i}"} for i in range(e.HISTORY_CAP)]}
    capped = e.on_recipe("ghost", 640, long)[STATE]["undo"]
    assert len(capped) == e.HISTORY_CAP and capped[0]["label"] == "edit 1"


def test_preview_says_what_a_swap_would_do_and_changes_nothing():
    st = state_of("yolov5s")
    kept = copy.deepcopy(st)
    steps = [("section", "neck"), ("where", "k=3,s=2"), ("swap", "Conv=GSConv")]
    _, notes = edit.apply(source(text=st["yaml"]).spec, steps)
    assert notes[0].endswith(": 18, 21")  # graph/edit agrees on the layers
    edited = h.edit_design(st["yaml"], steps, 640)
    delta = edited["counts"]["params"] - st["counts"]["params"]
    html = e.on_preview("Conv", "GSConv", "neck", "k=3,s=2", 640, st)
    assert "2 layers (18, 21)" in html and f"−{-delta:,} params" in html and "363,840" in html
    assert st == kept


@pytest.mark.parametrize("old, new, where, why", [
    ("C2f", "C2fGhost", "", "no layer matches"),          # no C2f in a YOLOv5 model
    ("Conv", "C3", "", "k=3 has no slot in C3"),            # an arg the new block has no place for
    ("Conv", "Detect", "", "only a head replaces a head"),
    ("Conv", "GSConv", "k", "--where takes ARG=VALUE"),
])
def test_a_refused_swap_says_why_and_changes_nothing(old, new, where, why):
    st = state_of("yolov5s")
    kept = copy.deepcopy(st)
    out = e.on_swap(old, new, "neck", where, 640, st)
    assert why in out[ERROR] and why in out[MESSAGE] and 'role="alert"' in out[ERROR]
    assert all(skipped(out[i]) for i in (YAML, SUMMARY, GRAPH, TABLE, STATE, HISTORY, UNDO, REDO))
    assert why in e.on_preview(old, new, "neck", where, 640, st)
    assert st == kept


def test_nothing_to_undo_or_redo(v8n):
    assert "nothing to undo" in e.on_undo(640, v8n)[ERROR] and skipped(e.on_undo(640, v8n)[STATE])
    assert "nothing to redo" in e.on_redo(640, v8n)[ERROR]


def test_the_api_and_the_panel_edit_alike(v8n):
    out = api_edit(v8n["yaml"], [["recipe", "ghost"]], 640)
    panel = e.on_recipe("ghost", 640, {**v8n, "name": "model"})[STATE]
    assert out["yaml"] == panel["yaml"] and out["params"] == panel["counts"]["params"] == 2502908
    assert out["before"]["params"] == 3157200
