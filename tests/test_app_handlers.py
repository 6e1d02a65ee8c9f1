"""The designer's handlers without a browser: plain data in, plain data out."""
import os

import pytest

from app import handlers as h
from app.views import error_html, summary_html
from graph.compose import compose
from graph.counts import count
from graph.resolve import resolve
from graph.templates import presets


def test_compose_yaml_counts_equal_the_core():
    text = h.compose_yaml("shufflenetv2", "lite-pan", "yolov5", "s", 3)
    result = h.evaluate(text, 640, "x")
    assert result["ok"]
    assert result["counts"]["params"] == count(resolve(compose("shufflenetv2", "lite-pan", "yolov5", "s", 3))).params
    assert "<svg" in result["svg"] and 'data-module="Shuffle_Block"' in result["svg"]
    assert result["table"][0][4] == "conv_bn_relu_maxpool"


def test_a_design_is_counted_and_drawn_once_whichever_way_it_comes_in():
    """The pickers' design, then its own yaml text (the page's state) evaluate to the same numbers and
    picture from one resolve, count and drawing (cached on the spec)."""
    h.evaluate.cache_clear()
    picked = h.evaluate(h.picks_source("ghostnet", "yolov8-pan", "yolov8", "n", 80), 640)
    typed = h.evaluate(picked["yaml"], 640, picked["name"])
    assert typed["counts"] == picked["counts"] and typed["svg"] is picked["svg"] and typed["table"] is picked["table"]
    assert h._measured.cache_info().misses == 1 and h._measured.cache_info().hits == 1
    assert h.evaluate(picked["yaml"], 320, picked["name"])["svg"] != picked["svg"]  # another size: drawn again


@pytest.mark.parametrize("name", list(presets()))
def test_every_preset_evaluates(name):
    picks, text = h.preset_yaml(name)
    result = h.evaluate(text, 640, name)
    assert result["ok"], result
    assert (picks is None) == (presets()[name]["picks"] is None)


def test_preset_nc_override_applies_to_yaml_presets():
    _, text = h.preset_yaml("yolov5-mobilenetv3-large", nc=5)
    assert h.evaluate(text, 640)["nc"] == 5


def test_broken_yaml_is_an_error_result_not_an_exception():
    _, text = h.preset_yaml("yolov8n")
    bad = text.replace("C2f, [256]]", "C2f, [256, 'x', 'y', 'z', 'w']]", 1)
    result = h.evaluate(bad, 640)
    assert not result["ok"] and result["layer"] is not None and "at most" in result["error"]
    assert not h.evaluate("nc: [", 640)["ok"]
    assert not h.evaluate("", 640)["ok"]
    assert not h.evaluate(text, 650)["ok"]  # image size not a multiple of 32


def test_change_note_against_previous():
    before = {"params": 100, "gflops": 10.0}
    assert h.change_note({"params": 59, "gflops": 10.0}, before) == "−41% params"
    assert h.change_note({"params": 150, "gflops": 5.0}, before) == "+50% params, −50% GFLOPs"
    assert h.change_note(before, None) == ""


def test_summary_shows_yolo_figure_only_when_it_differs():
    small = h.evaluate(h.preset_yaml("yolov5-mobilenetv3-small")[1], 640, "m")
    html = summary_html(small, "")
    assert 'id="stat-params" data-value="5235267"' in html and "12.15" in html and "squeeze" in html
    v8 = h.evaluate(h.preset_yaml("yolov8n")[1], 640, "v8")
    assert "YOLO-style" not in summary_html(v8, "")
    assert "layer 3" in error_html("layer 3 (C3): bad") and error_html("") == '<div class="yld-ok"></div>'


def test_yaml_file_and_csv(tmp_path):
    path = h.write_yaml_file("nc: 1\n", "my model/../x")
    assert os.path.basename(path) == "my-model-..-x.yaml"  # no separator survives: it stays in its folder
    assert os.path.basename(os.path.dirname(os.path.dirname(path))) == h.DOWNLOADS and open(path).read() == "nc: 1\n"
    result = h.evaluate(h.preset_yaml("yolov8n")[1], 640, "a")
    csv = open(h.pins_csv([h.pin_row(result, 'a "b"')])).read().splitlines()
    assert csv[0].startswith("name,imgsz,classes,params,GFLOPs") and "3157200" in csv[1]


def test_read_upload_rejects_binary_and_huge(tmp_path):
    good = tmp_path / "m.yaml"
    good.write_text("nc: 1\n")
    assert h.read_upload(str(good)) == "nc: 1\n"
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 10)
    from graph.errors import SpecError

    with pytest.raises(SpecError):
        h.read_upload(str(binary))
    big = tmp_path / "big.yaml"
    big.write_text("#" * (300 * 1024))
    with pytest.raises(SpecError, match="larger"):
        h.read_upload(str(big))
