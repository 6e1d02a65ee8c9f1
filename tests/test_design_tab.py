"""The Design tab's handlers, called as the page calls them (plain data in, page updates out),
without a browser."""
import os
import re
import xml.etree.ElementTree as ET

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
    text, summary, svg, table, error, new = d.on_picks("ghostnet", "yolov8-pan", "yolov8", "n", 80, 640, state)
    expected = count(resolve(parse(text)[0], 640)).params
    assert new["counts"]["params"] == expected != state["counts"]["params"]
    assert f"{expected:,}" in summary and "params" in summary.lower()
    assert svg.startswith("<svg") and table.count("<tr data-index=") == len(parse(text)[0].layers)
    assert "ghost" in text.lower() and new["yaml"] == text and new["pins"] == []
    # the yaml file is written when the Download button asks for it, not on the change
    download = d.on_download(new)
    assert os.path.basename(download) == "ghostnet-yolov8-pan-yolov8-n.yaml" and open(download).read() == text


def test_what_the_page_shows_already_is_not_sent_again(state):
    """The graph and the table go to the page only when they change: the same design again (here the
    pickers' own design, then its yaml text typed back with a comment) sends neither, the numbers do go."""
    first = d.on_picks("ghostnet", "yolov8-pan", "yolov8", "n", 80, 640, state)
    again = d.on_yaml(first[0] + "# a comment\n", 640, first[-1])
    assert not skipped(first[2]) and not skipped(first[3])
    assert skipped(again[2]) and skipped(again[3]) and "ghostnet" in again[1]
    other = d.on_imgsz(320, again[-1])  # another size: other shapes in the graph and the table
    assert other[1].startswith("<svg") and "×40×40" in other[2]


def test_a_picker_change_that_does_not_compose_keeps_the_page(state):
    out = d.on_picks("shufflenetv2", "nowhere", "yolov5", "s", 80, 640, state)
    assert all(skipped(x) for x in out[:4]) and "nowhere" in out[4] and skipped(out[5])


def test_a_bad_yaml_edit_keeps_the_last_good_design(state):
    out = d.on_yaml("nc: 80\nbackbone: [[-1, 1, Nope, [1]]]\nhead: []\n", 640, state)
    assert skipped(out[0]) and skipped(out[1]) and "Nope" in out[4] and skipped(out[5])
    good = d.on_yaml(h.preset_yaml("yolov5n")[1], 640, state)
    assert skipped(good[0]) and good[5]["counts"]["params"] == 1872157


def test_a_preset_sets_its_pickers_or_leaves_them(state):
    out = d.on_preset("yolov8n", 80, 640, state)
    assert out[:4] == ("yolov8", "yolov8-pan", "yolov8", "n")
    out = d.on_preset("yolov5-mobilenetv3-small", 80, 640, state)  # a file preset: pickers stay
    assert all(skipped(x) for x in out[:4]) and out[-1]["counts"]["params"] == 5235267


def pin_names(plot: str) -> list[str]:
    return re.findall(r'<g class="pin" data-name="([^"]*)"', plot)


def test_pins_get_unique_names_and_can_be_removed(state):
    rows, plot, choices, csv_path, st = d.on_pin(state)
    rows, plot, choices, csv_path, st = d.on_pin(st)
    assert [r[0] for r in rows] == [state["name"], f"{state['name']} (2)"]
    assert pin_names(plot) == [state["name"], f"{state['name']} (2)"]
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


# ---------------------------------------------------------------- issue 11: the design is the yaml
MOBILE = "yolov5-mobilenetv3-small"


def test_classes_and_image_size_change_only_the_current_design(state):
    st = d.on_preset(MOBILE, 80, 640, state)[-1]  # a file preset: the pickers still show yolov8n
    out = d.on_nc(3, 640, st)
    spec = parse(h.preset_yaml(MOBILE)[1])[0]
    assert out[0] == out[-1]["yaml"] and "MobileNetV3" in out[0] and parse(out[0])[0].nc == 3
    assert out[-1]["counts"]["params"] == count(resolve(spec.with_overrides(nc=3)[0], 640)).params
    assert "3 classes" in out[1] and ", edited" not in out[1]  # a class count is not an edit of the design
    again = d.on_imgsz(320, out[-1])
    assert again[-1]["yaml"] == out[0] and "GFLOPs @320" in again[0] and "MobileNetV3" not in again[0][:0]
    assert again[-1]["counts"]["params"] == out[-1]["counts"]["params"]
    assert again[-1]["counts"]["gflops"] < out[-1]["counts"]["gflops"]


def test_the_origin_is_shown_and_a_pick_over_an_edit_goes_onto_undo(state):
    from app import edit_panel as ep

    st = d.on_preset(MOBILE, 80, 640, state)[-1]
    assert f"from preset {MOBILE}" in d.origin_html(st) and ", edited" not in d.origin_html(st)
    edited = st["yaml"].replace("nc: 80", "nc: 7", 1)
    out = d.on_yaml(edited, 640, st)
    assert f"from preset {MOBILE}, edited" in out[1] and 'id="design-origin"' in out[1]
    picked = d.on_picks("ghostnet", "yolov8-pan", "yolov8", "n", 80, 640, out[-1])
    assert "replaced your edited design — Undo brings it back" in picked[4]
    assert "composed from picks" in picked[1] and ", edited" not in d.origin_html(picked[-1])
    assert picked[-1]["undo"][-1]["yaml"] == edited and isinstance(picked[-1]["undo"][-1]["label"], str)
    assert d.on_history(picked[-1])[0] is None  # the Preset box no longer claims the preset
    back = ep.on_undo(640, picked[-1])
    assert back[0] == edited and back[ep.STATE]["yaml"] == edited and f"from preset {MOBILE}, edited" in back[1]
    # an unedited design is replaced without an undo entry or a message
    quiet = d.on_picks("ghostnet", "yolov8-pan", "yolov8", "n", 80, 640, st)
    assert quiet[4] == '<div class="yld-ok"></div>' and not quiet[-1].get("undo")
    name = "my.yaml"
    assert d.origin_html({"yaml": "a", "origin": {"label": f"uploaded {name}", "yaml": "b"}}).count(name) == 1


def test_a_scale_a_preset_set_is_named_when_a_pick_composes_at_it(state):
    out = d.on_preset("yolov5-shufflenetv2", 80, 640, state)
    assert out[3] == "l"
    picked = d.on_picks("ghostnet", out[1], out[2], "l", 80, 640, out[-1])
    assert "scale l (set by preset yolov5-shufflenetv2)" in picked[1]
    mine = d.on_scale("ghostnet", out[1], out[2], "l", 80, 640, picked[-1])
    assert "set by preset" not in mine[1] and mine[-1]["scale_by"] is None and mine[-1]["picks"]["scale"] == "l"
    assert "set by preset" not in d.on_picks("ghostnet", out[1], out[2], "n", 80, 640, mine[-1])[1]


def test_pasted_yaml_is_repaired_in_the_editor(state):
    clean = h.preset_yaml("yolov8n")[1]
    pasted = clean.replace("  - [", "\u00a0\u00a0- [")
    out = d.on_yaml(pasted, 640, state)
    assert not skipped(out[0]) and out[0] == out[-1]["yaml"] != pasted
    assert parse(out[0])[1] == [] and parse(out[0])[0] == parse(clean)[0]  # valid yaml, no repair needed
    assert "repaired pasted yaml" in out[1]  # the note says what was repaired
    assert open(d.on_download(out[-1])).read() == out[0]  # the download is the repaired text


def test_pins_are_counted_at_the_image_size_and_each_is_a_point(state):
    st = d.on_preset(MOBILE, 80, 640, state)[-1]
    rows, plot, _, csv_path, st = d.on_pin(st, 320)
    assert h.PIN_COLUMNS[:3] == ["name", "imgsz", "classes"] and rows[0][1:3] == [320, 80]
    assert rows[0][h.PIN_COLUMNS.index("GFLOPs")] == round(h.evaluate(st["yaml"], 320)["counts"]["gflops"], 2)
    st = d.on_picks("ghostnet", "yolov8-pan", "yolov8", "n", 80, 640, st)[-1]
    rows, plot, _, _, st = d.on_pin(st, 640)
    st = d.on_nc(3, 640, st)[-1]
    rows, plot, _, csv_path, st = d.on_pin(st, 640)
    assert len(pin_names(plot)) == 3 == len(set(pin_names(plot))) and [r[2] for r in rows] == [80, 80, 3]
    svg = ET.fromstring(plot)  # every pin a point of its own, inside the frame, its name written beside it
    spots = {(c.get("cx"), c.get("cy")) for c in svg.iter("{http://www.w3.org/2000/svg}circle")}
    assert len(spots) == 3 and all(56 <= float(x) <= 490 and 40 <= float(y) <= 276 for x, y in spots)
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert all(any(t.startswith(name[:30]) for t in texts) for name in pin_names(plot))
    assert open(csv_path).readline().startswith("name,imgsz,classes,params")


def test_a_pin_of_an_edited_design_says_so_and_classes_follow_the_design(state):
    st = d.on_preset("yolov8n", 80, 640, state)[-1]
    assert d.design_nc(st, 80)["__type__"] == "update" and len(d.design_nc(st, 80)) == 1  # same: left alone
    edited = d.on_yaml(st["yaml"].replace("nc: 80", "nc: 3"), 640, st)[-1]
    assert edited["nc"] == 3 and d.design_nc(edited, 80) == 3  # the Classes box follows a pasted nc
    rows = d.on_pin(edited)[0]
    assert rows[0][0] == "yolov8n (edited)" and rows[0][2] == 3
    assert d.on_pin(st)[0][0][0] == "yolov8n"


def test_every_light_handler_that_sets_the_design_publishes_it():
    """The design's handlers skip Gradio's queue (app/light.py), and Gradio reports a state change to the page
    (so the state's .change listeners run: the inspector's form, the Classes box, ...) only from a queued
    event: each light event that writes the state must be followed by the queued publish."""
    import gradio as gr

    from app.light import mark_published

    with gr.Blocks() as demo:
        state = d.build_design_tab()
    fns = demo.fns
    light = [i for i, f in fns.items() if not f.queue and state in f.outputs]
    published = {f.trigger_after for f in fns.values() if f.name == "mark_published" and f.queue}
    names = {fns[i].name for i in light}
    assert {"on_picks", "on_scale", "on_preset", "on_yaml", "on_nc", "on_imgsz", "on_recipe", "on_undo",
            "on_apply", "on_delete"} <= names
    assert [fns[i].name for i in light if i not in published] == []
    st = {"yaml": "x", "rev": 3, "published": 2}
    assert mark_published(st) == {**st, "published": 3} and skipped(mark_published({**st, "published": 3}))
    assert d.on_picks("ghostnet", "yolov8-pan", "yolov8", "n", 80, 640, st)[-1]["rev"] == 4  # a new design


def test_a_repeated_pick_changes_nothing_but_clears_an_old_error(state):
    """Gradio 6's dropdown fires `input` on blur too (after a pick, which fired it already, and when it
    closes with no pick): the pickers as they were change nothing, even on an edited design, and send only
    a clear error line, which also clears the error of a refused pick when the picker goes back."""
    first = d.on_picks("ghostnet", "yolov8-pan", "yolov8", "n", 80, 640, state)
    again = d.on_picks("ghostnet", "yolov8-pan", "yolov8", "n", 80, 640, first[-1])
    assert all(skipped(x) for i, x in enumerate(again) if i != 4) and again[4] == '<div class="yld-ok"></div>'
    edited = d.on_yaml(first[-1]["yaml"].replace("nc: 80", "nc: 7", 1), 640, first[-1])[-1]
    assert skipped(d.on_picks("ghostnet", "yolov8-pan", "yolov8", "n", 80, 640, edited)[-1])  # edits stay
    refused = d.on_picks("ghostnet", "nowhere", "yolov8", "n", 80, 640, first[-1])
    assert "nowhere" in refused[4] and skipped(refused[5])
    assert d.on_picks("ghostnet", "yolov8-pan", "yolov8", "n", 80, 640, first[-1])[4] == '<div class="yld-ok"></div>'
    preset = d.on_preset("yolov5-shufflenetv2", 80, 640, first[-1])
    assert preset[-1]["picks"] == {"backbone": "shufflenetv2", "neck": "lite-pan", "head": "yolov5", "scale": "l"}
    assert all(skipped(x) for i, x in enumerate(d.on_preset("yolov5-shufflenetv2", 80, 640, preset[-1])) if i != 8)
    file_preset = d.on_preset("yolov5-mobilenetv3-small", 80, 640, preset[-1])[-1]  # no picks: the pickers stay
    assert file_preset["picks"] == preset[-1]["picks"]
