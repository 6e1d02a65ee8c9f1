"""Model yaml as people have it: the articles' text as printed, both dialects, scale selection,
YOLO's width / depth rounding, `nc` overrides, the spellings of None and 'nearest', and web-paste
damage repaired with a note."""
from __future__ import annotations

import os
import re

import pytest

from graph.dump import to_yaml
from graph.errors import SpecError
from graph.resolve import make_divisible, resolve
from graph.spec import ModelSpec, parse, parse_file
from graph.templates import preset_path

ARTICLES = os.path.join(os.path.dirname(__file__), "fixtures", "articles")
FIXTURES = ["000_shufflenetv2", "001_yolov8_ghostnet", "003_mobilenetv3_small", "003_mobilenetv3_large"]
REPAIRED = {"000_shufflenetv2", "003_mobilenetv3_small", "003_mobilenetv3_large"}


def article(name: str) -> str:
    with open(os.path.join(ARTICLES, name + ".yaml"), encoding="utf-8") as fh:
        return fh.read()


def preset_text(name: str) -> str:
    with open(preset_path(name), encoding="utf-8") as fh:
        return fh.read()


def hand_indented(text: str) -> str:
    """What a careful reader does to the article's yaml: indent everything under backbone: / head:."""
    out, inside = [], False
    for line in text.splitlines():
        if re.match(r"^[A-Za-z_]\w*\s*:", line):
            inside = re.match(r"^(backbone|head)\s*:\s*(#.*)?$", line) is not None
            out.append(line)
        else:
            out.append("    " + line if inside and line.strip() else line)
    return "\n".join(out) + "\n"


# --- the articles' yaml, as printed -------------------------------------------------------------

@pytest.mark.parametrize("name", FIXTURES)
def test_article_yaml_loads_as_printed(name):
    spec, notes = parse_file(os.path.join(ARTICLES, name + ".yaml"))
    assert isinstance(spec, ModelSpec) and spec.name == name
    assert spec.layers and spec.layers[-1].module == "Detect"
    if name in REPAIRED:
        assert len(notes) == 1 and notes[0].startswith("repaired pasted yaml"), notes
        assert "column 0" in notes[0] and "backbone" in notes[0] and "head" in notes[0]
    else:
        assert notes == []
    resolve(spec)  # and it is a model


def test_pyyaml_alone_rejects_the_pasted_articles():
    import yaml

    for name in REPAIRED:
        with pytest.raises(yaml.YAMLError):
            yaml.safe_load(article(name))


@pytest.mark.parametrize("name", FIXTURES)
def test_repaired_text_equals_hand_indented(name):
    text = article(name)
    fixed = hand_indented(text)
    assert fixed != text or name not in REPAIRED
    by_hand, notes = parse(fixed, name)
    assert notes == []
    repaired, _ = parse(text, name)
    assert repaired == by_hand
    assert repaired.layers == by_hand.layers and repaired.anchors == by_hand.anchors


def test_column_zero_lists_small_example():
    pasted = "nc: 4\nanchors:\n- [10,13, 16,30, 33,23]\nbackbone:\n# [from, number, module, args]\n" \
             "[[-1, 1, Conv, [16, 3, 2]], # 0\n[-1, 1, Conv, [32, 3, 2]],\n]\nhead:\n" \
             "[[-1, 1, Conv, [32, 3, 2]],\n[[-1], 1, Detect, [nc, anchors]],\n]\n"
    clean = """\
nc: 4
anchors:
  - [10, 13, 16, 30, 33, 23]
backbone:
  - [-1, 1, Conv, [16, 3, 2]]
  - [-1, 1, Conv, [32, 3, 2]]
head:
  - [-1, 1, Conv, [32, 3, 2]]
  - [[-1], 1, Detect, [nc, anchors]]
"""
    a, notes = parse(pasted)
    b, clean_notes = parse(clean)
    assert notes and notes[0].startswith("repaired pasted yaml") and clean_notes == []
    assert a == b and len(a.backbone) == 2 and len(a.head) == 2


@pytest.mark.parametrize("name, preset", [("003_mobilenetv3_small", "yolov5-mobilenetv3-small"),
                                          ("003_mobilenetv3_large", "yolov5-mobilenetv3-large")])
def test_article_matches_its_preset(name, preset):
    assert parse(article(name))[0] == parse_file(preset_path(preset))[0]


@pytest.mark.parametrize("name", FIXTURES)
def test_dumped_article_is_clean_yaml(name):
    spec, _ = parse(article(name), name)
    again, notes = parse(to_yaml(spec), name)
    assert notes == [] and again == spec


def test_article_details():
    large, _ = parse(article("003_mobilenetv3_large"))
    assert large.nc == 20 and large.dialect == "yolov5"
    shuffle, _ = parse(article("000_shufflenetv2"))
    assert [lay.module for lay in shuffle.backbone] == ["conv_bn_relu_maxpool"] + ["Shuffle_Block"] * 6
    assert shuffle.anchors == ((10, 13, 16, 30, 33, 23), (30, 61, 62, 45, 59, 119), (116, 90, 156, 198, 373, 326))


@pytest.mark.parametrize("preset", ["yolov5n", "yolov5s", "yolov8n", "yolov8s", "yolov5-shufflenetv2",
                                    "yolov8n-ghostnet", "yolov5s-slimneck", "yolov5-mobilenetv3-small",
                                    "yolov5-mobilenetv3-large", "yolov5s-repvgg"])
def test_clean_presets_need_no_repair(preset):
    spec, notes = parse_file(preset_path(preset))
    assert notes == []
    assert spec.name == os.path.basename(preset_path(preset))[:-5]


# --- dialects and scales ------------------------------------------------------------------------

@pytest.mark.parametrize("source, dialect", [
    ("preset:yolov5n", "yolov5"), ("preset:yolov5s-slimneck", "yolov5"), ("preset:yolov8n", "ultralytics"),
    ("preset:yolov8n-ghostnet", "ultralytics"), ("article:000_shufflenetv2", "yolov5"),
    ("article:001_yolov8_ghostnet", "ultralytics"), ("article:003_mobilenetv3_small", "yolov5"),
], ids=lambda v: v.split(":")[-1] if isinstance(v, str) and ":" in v else v)
def test_dialect_detection(source, dialect):
    kind, name = source.split(":")
    text = preset_text(name) if kind == "preset" else article(name)
    spec, _ = parse(text)
    assert spec.dialect == dialect
    if dialect == "ultralytics":
        assert spec.scales and spec.anchors is None and spec.layers[-1].args == ("nc",)
    else:
        assert not spec.scales and spec.anchors and spec.layers[-1].args == ("nc", "anchors")


YOLOV8 = preset_text("yolov8n")  # has `scale: n`
YOLOV8_NO_KEY = YOLOV8.replace("scale: n\n", "")
YOLOV8_S_KEY = YOLOV8.replace("scale: n\n", "scale: s\n")
FIRST_CONV = {"n": 16, "s": 32, "m": 48, "l": 64, "x": 80}


@pytest.mark.parametrize("text, override, want", [
    (YOLOV8_NO_KEY, None, "n"),       # first listed
    (YOLOV8_S_KEY, None, "s"),        # the file's scale: key
    (YOLOV8_S_KEY, "m", "m"),         # --scale beats the key
    (YOLOV8_NO_KEY, "x", "x"),        # --scale beats first listed
    (YOLOV8_S_KEY, "s", "s"),
], ids=["first-listed", "file-key", "override-beats-key", "override-beats-first", "override-same"])
def test_scale_selection(text, override, want):
    spec, _ = parse(text)
    spec, notes = spec.with_overrides(scale=override)
    assert spec.multiples == dict(spec.scales)[want]
    assert resolve(spec).layers[0].c_out == FIRST_CONV[want]
    assert notes == []


def test_scale_key_recorded():
    assert parse(YOLOV8_NO_KEY)[0].scale is None
    assert parse(YOLOV8_S_KEY)[0].scale == "s"
    spec, _ = parse(article("001_yolov8_ghostnet"))
    assert spec.scale is None and spec.multiples == (0.33, 0.25, 1024)


def test_unknown_scale_override_refused():
    spec, _ = parse(YOLOV8)
    with pytest.raises(SpecError, match="not in this model's scales"):
        spec.with_overrides(scale="q")
    v5, _ = parse(preset_text("yolov5n"))
    with pytest.raises(SpecError, match="unknown scale"):
        v5.with_overrides(scale="xl")


def test_yolov5_scale_override_uses_yolov5_multiples():
    v5n, _ = parse(preset_text("yolov5n"))
    v5s, notes = v5n.with_overrides(scale="s")
    assert (v5s.depth_multiple, v5s.width_multiple) == (0.33, 0.50)
    assert notes and "scale s" in notes[0]
    stock = parse(preset_text("yolov5s"))[0]
    assert v5s.layers == stock.layers and v5s.multiples == stock.multiples and v5s.anchors == stock.anchors
    assert v5s.scale == "s"


# --- width and depth rounding -------------------------------------------------------------------

@pytest.mark.parametrize("x, want", [(16, 16), (16.0, 16), (21.12, 24), (25, 32), (512 * 1.25, 640), (1, 8)])
def test_make_divisible(x, want):
    assert make_divisible(x, 8) == want


@pytest.mark.parametrize("scale, conv7, sppf, head_c2f", [
    ("n", 256, 256, 64),     # 1024 * 0.25; C2f [256] * 0.25
    ("s", 512, 512, 128),
    ("m", 576, 576, 192),    # min(1024, 768) * 0.75
    ("l", 512, 512, 256),    # min(1024, 512) * 1.0: max_channels caps it
    ("x", 640, 640, 320),    # min(1024, 512) * 1.25
])
def test_width_rounding_and_max_channels(scale, conv7, sppf, head_c2f):
    spec, _ = parse(YOLOV8)
    g = resolve(spec.with_overrides(scale=scale)[0])
    assert g.layers[7].c_out == conv7 and g.layers[7].module == "Conv"
    assert g.layers[9].c_out == sppf and g.layers[9].module == "SPPF"
    assert g.layers[15].c_out == head_c2f
    assert g.layers[7].ctor[:2] == (g.layers[6].c_out, conv7)  # c1, c2 as the block is built


def test_width_rounds_up_to_multiple_of_8():
    text = """\
nc: 80
depth_multiple: 1.0
width_multiple: 0.33
anchors: [[10,13, 16,30, 33,23]]
backbone:
  - [-1, 1, Conv, [64, 3, 2]]
  - [-1, 1, Conv, [100, 3, 2]]
  - [-1, 1, Conv, [3, 3, 2]]
head:
  - [[-1], 1, Detect, [nc, anchors]]
"""
    g = resolve(parse(text)[0])
    assert [node.c_out for node in g.layers[:3]] == [24, 40, 8]  # 21.12, 33, 0.99 -> multiples of 8


@pytest.mark.parametrize("scale, depths", [
    ("n", {2: 1, 4: 2, 6: 2, 8: 1, 12: 1}),    # 3 * 0.33 = 0.99 -> 1; 6 * 0.33 = 1.98 -> 2
    ("m", {2: 2, 4: 4, 6: 4, 8: 2, 12: 2}),    # 3 * 0.67 = 2.01 -> 2; 6 * 0.67 = 4.02 -> 4
    ("l", {2: 3, 4: 6, 6: 6, 8: 3, 12: 3}),
])
def test_depth_rounding(scale, depths):
    spec, _ = parse(YOLOV8)
    g = resolve(spec.with_overrides(scale=scale)[0])
    for i, n in depths.items():
        assert g.layers[i].n == n, i
        assert g.layers[i].ctor[2] == n  # C2f takes n inside
    assert all(g.layers[i].n == 1 for i in (0, 1, 3, 5, 7, 9))  # n = 1 is never scaled


def test_depth_rounding_yolov5():
    g = resolve(parse(preset_text("yolov5n"))[0])
    assert [g.layers[i].n for i in (2, 4, 6, 8)] == [1, 2, 3, 1]  # 3, 6, 9, 3 at depth 0.33


@pytest.mark.parametrize("n, depth, want", [(1, 0.1, 1), (2, 0.33, 1), (3, 0.1, 1), (5, 0.5, 2), (3, 0.5, 2),
                                            (4, 1.33, 5), (9, 1.33, 12), (64, 0.5, 32)])
def test_depth_formula(n, depth, want):
    text = f"""\
nc: 80
depth_multiple: {depth}
width_multiple: 1.0
anchors: [[10,13, 16,30, 33,23]]
backbone:
  - [-1, 1, Conv, [16, 3, 2]]
  - [-1, {n}, C3, [16]]
head:
  - [[-1], 1, Detect, [nc, anchors]]
"""
    assert resolve(parse(text)[0]).layers[1].n == want == (max(round(n * depth), 1) if n > 1 else n)


# --- nc -----------------------------------------------------------------------------------------

def test_nc_override_changes_the_head():
    from graph.model import DetectionModel

    for preset, outputs in (("yolov5s", lambda nc: 3 * (5 + nc)), ("yolov8n", lambda nc: nc)):
        spec, _ = parse(preset_text(preset))
        spec3, notes = spec.with_overrides(nc=3)
        assert spec3.nc == 3 and spec.nc == 80 and notes == []
        g80, g3 = resolve(spec), resolve(spec3)
        assert g3.head.args["nc"] == 3 and g80.head.args["nc"] == 80
        assert [n.c_out for n in g3.layers] == [n.c_out for n in g80.layers]  # only the head changes
        head = DetectionModel(g3, device="meta").model[-1]
        assert head.nc == 3
        last = head.m[0] if hasattr(head, "m") else head.cv3[0][-1]
        assert last.out_channels == outputs(3)


@pytest.mark.parametrize("nc", [0, -1, 10_001, 2.5, "abc", True])
def test_bad_nc_override(nc):
    spec, _ = parse(preset_text("yolov8n"))
    with pytest.raises(SpecError, match="nc"):
        spec.with_overrides(nc=nc)


# --- None / null / nearest spellings ------------------------------------------------------------

@pytest.mark.parametrize("row", [
    "[None, 2, 'nearest']", "[null, 2, nearest]", "[~, 2, \"nearest\"]", "[None, 2, nearest]",
    "[Null, 2.0, 'nearest']", "[NULL, 2, \"'nearest'\"]", "['None', '2', 'nearest']", "[None, 2]", "[]",
], ids=["None-quoted", "null-plain", "tilde-dquoted", "None-plain", "Null-float", "nested-quotes",
        "all-strings", "default-mode", "all-defaults"])
def test_none_and_nearest_spellings(row):
    text = YOLOV8.replace("[None, 2, 'nearest']", row)
    assert text.count(row) == 2
    g = resolve(parse(text)[0])
    for i in (10, 13):
        assert g.layers[i].module == "nn.Upsample"
        assert g.layers[i].args == {"size": None, "scale_factor": 2.0, "mode": "nearest"}
        assert g.layers[i].shape[1] == 2 * g.layers[i - 1].shape[1]


def test_true_false_spellings():
    for true in ("True", "true", "1"):
        text = YOLOV8.replace("[128, True]", f"[128, {true}]")
        assert resolve(parse(text)[0]).layers[2].args["shortcut"] is True
    text = preset_text("yolov5s").replace("[512, False]", "[512, false]")
    assert resolve(parse(text)[0]).layers[13].args["shortcut"] is False


# --- web-paste damage ---------------------------------------------------------------------------

PASTE_DAMAGE = {
    "single-curly-quotes": lambda t: t.replace("'nearest'", "\u2018nearest\u2019"),
    "double-curly-quotes": lambda t: t.replace("'nearest'", "\u201cnearest\u201d"),
    "nbsp-indent": lambda t: t.replace("  - [", "\u00a0\u00a0- ["),
    "ideographic-space": lambda t: t.replace("  - [", "\u3000- ["),
    "tab-indent": lambda t: t.replace("  - [", "\t- ["),
    "curly-quotes-and-nbsp": lambda t: t.replace("'nearest'", "\u2018nearest\u2019").replace("  - [", "\u00a0 - ["),
}


@pytest.mark.parametrize("damage", PASTE_DAMAGE, ids=list(PASTE_DAMAGE))
@pytest.mark.parametrize("preset", ["yolov8n", "yolov5s"])
def test_web_paste_damage_repaired_with_note(preset, damage):
    clean = preset_text(preset)
    pasted = PASTE_DAMAGE[damage](clean)
    assert pasted != clean
    spec, notes = parse(pasted)
    assert len(notes) == 1 and notes[0].startswith("repaired pasted yaml"), notes
    assert "typographic quotes" in notes[0]
    assert spec == parse(clean)[0]
    assert resolve(spec).layers[-1].module == "Detect"


def test_curly_quotes_in_a_column_zero_article():
    text = article("000_shufflenetv2").replace("'nearest'", "\u2018nearest\u2019")
    spec, notes = parse(text)
    assert len(notes) == 2 and all(n.startswith("repaired pasted yaml") for n in notes)
    assert spec == parse(article("000_shufflenetv2"))[0]


def test_damaged_yaml_that_repair_cannot_save_reports_where():
    with pytest.raises(SpecError) as info:
        parse("nc: 80  # \u2018the\u2019 classes\nbackbone: [[-1, 1\nhead: [\n")
    msg = str(info.value)
    assert msg.startswith("yaml syntax error at line") and "\n" not in msg
