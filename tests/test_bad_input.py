"""A corpus of bad model specs: every one must end as a SpecError (never another exception) whose
message is one line naming the layer (when the fault is in a layer) and the cause, and none may
run code, blow up memory or take long. The process must keep working afterwards."""
from __future__ import annotations

import os
import time
import tracemalloc

import pytest

from graph import limits
from graph.counts import count
from graph.errors import SpecError
from graph.model import build
from graph.resolve import resolve
from graph.spec import parse, parse_file
from graph.templates import preset_path

V5_HEADER = """\
nc: 80
depth_multiple: 1.0
width_multiple: 1.0
anchors:
  - [10,13, 16,30, 33,23]
  - [30,61, 62,45, 59,119]
  - [116,90, 156,198, 373,326]
"""

# A tiny valid YOLOv5-dialect detector: strides 2, 4, 8, 16, 32, then Detect on 8 / 16 / 32.
GOOD_BACKBONE = [
    "[-1, 1, Conv, [16, 3, 2]]",   # 0  /2
    "[-1, 1, Conv, [32, 3, 2]]",   # 1  /4
    "[-1, 1, Conv, [32, 3, 2]]",   # 2  /8
    "[-1, 1, Conv, [32, 3, 2]]",   # 3  /16
    "[-1, 1, Conv, [32, 3, 2]]",   # 4  /32
]
GOOD_HEAD = ["[[2, 3, 4], 1, Detect, [nc, anchors]]"]  # 5


def model(backbone=None, head=None, header=V5_HEADER) -> str:
    backbone = GOOD_BACKBONE if backbone is None else backbone
    head = GOOD_HEAD if head is None else head
    text = header + "backbone:\n"
    text += "".join(f"  - {row}\n" for row in backbone)
    text += "head:\n" + "".join(f"  - {row}\n" for row in head)
    return text


def with_layer(index: int, row: str) -> str:
    """The good model with backbone layer `index` replaced by `row`."""
    rows = list(GOOD_BACKBONE)
    rows[index] = row
    return model(rows)


def pipeline(text: str, imgsz: int = 640):
    spec, _ = parse(text)
    return count(resolve(spec, imgsz))


def test_good_model_is_good():
    c = pipeline(model())
    assert c.params > 0 and c.gflops > 0


PWNED = "/tmp/pwned_yld"
EVIL = "__import__('os').system('touch /tmp/pwned_yld')"


def _billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\nnc: 80\nbackbone: *i\nhead: *i\n"


def _many_layers(n: int) -> str:
    rows = ["[-1, 1, Conv, [16, 3, 2]]"] + ["[-1, 1, Conv, [16, 3, 1]]"] * (n - 1)
    return model(rows, head=[])


# (id, text, expected layer or None, keywords of which at least one must be in the message, imgsz)
CASES = [
    ("unknown-block-suggests", with_layer(1, "[-1, 1, Shufle_Block, [32, 2]]"), 1,
     ["unknown block", "Shuffle_Block"], 640),
    ("unknown-block-case", with_layer(3, "[-1, 1, conv, [32, 3, 2]]"), 3, ["unknown block", "Conv"], 640),
    ("too-many-args", with_layer(2, "[-1, 1, Conv, [32, 3, 2, 1, 1, 1, True, 7, 7, 7]]"), 2,
     ["at most"], 640),
    ("arg-wrong-type", with_layer(2, "[-1, 1, Conv, [64, 'three', 2]]"), 2, ["'three'"], 640),
    ("arg-missing", with_layer(2, "[-1, 1, Conv, []]"), 2, ["c2"], 640),
    ("arg-out-of-range", with_layer(2, "[-1, 1, Conv, [32, 3, 0]]"), 2, ["outside"], 640),
    ("from-forward", with_layer(2, "[4, 1, Conv, [32, 3, 2]]"), 2, ["forward"], 640),
    ("from-self", with_layer(2, "[2, 1, Conv, [32, 3, 2]]"), 2, ["forward"], 640),
    ("from-out-of-range", with_layer(2, "[-20, 1, Conv, [32, 3, 2]]"), 2, ["before the first layer"], 640),
    ("from-not-int", with_layer(2, "[x, 1, Conv, [32, 3, 2]]"), 2, ["'from'"], 640),
    ("from-bool", with_layer(2, "[true, 1, Conv, [32, 3, 2]]"), 2, ["'from'"], 640),
    ("from-empty-list", with_layer(2, "[[], 1, Conv, [32, 3, 2]]"), 2, ["'from'"], 640),
    ("concat-spatial-mismatch", model(GOOD_BACKBONE + ["[[-1, 2], 1, Concat, [1]]"],
                                      ["[[2, 3, 4], 1, Detect, [nc, anchors]]"]), 5,
     ["size", "x"], 640),
    ("add-shape-mismatch", model(GOOD_BACKBONE + ["[[-1, 1], 1, ADD, [1]]"],
                                 ["[[2, 3, 4], 1, Detect, [nc, anchors]]"]), 5, ["shape"], 640),
    ("add-channel-mismatch", model(GOOD_BACKBONE + ["[-1, 1, Conv, [64, 1, 1]]", "[[-1, 4], 1, ADD, [1]]"],
                                   ["[[2, 3, 4], 1, Detect, [nc, anchors]]"]), 6, ["shape"], 640),
    ("add-three-inputs", model(GOOD_BACKBONE + ["[[-1, 4, 4], 1, ADD, [1]]"],
                               ["[[2, 3, 4], 1, Detect, [nc, anchors]]"]), 5, ["2 inputs"], 640),
    ("shuffle-stride1-channels", with_layer(2, "[-1, 1, Shuffle_Block, [64, 1]]"), 2, ["c_in == c_out"], 640),
    ("stacked-channel-change", with_layer(2, "[-1, 3, Conv, [64, 3, 1]]"), 2, ["c_in == c_out"], 640),
    ("once-block-repeated", model(GOOD_BACKBONE + ["[[-1, 4], 2, Concat, [1]]"],
                                  ["[[2, 3, 4], 1, Detect, [nc, anchors]]"]), 5, ["does not repeat"], 640),
    ("missing-nc", model(header=V5_HEADER.replace("nc: 80\n", "")), None, ["'nc'"], 640),
    ("missing-backbone", V5_HEADER + "head:\n  - [-1, 1, Conv, [16, 3, 2]]\n", None, ["'backbone'"], 640),
    ("missing-head", V5_HEADER + "backbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n", None, ["'head'"], 640),
    ("backbone-not-list", V5_HEADER + "backbone: 5\nhead: []\n", None, ["backbone"], 640),
    ("no-layers", V5_HEADER + "backbone: []\nhead: []\n", None, ["no layers"], 640),
    ("python-module-quoted", with_layer(1, f'[-1, 1, "{EVIL}", [32, 3, 2]]'), 1, ["unknown block"], 640),
    ("python-module-plain", with_layer(1, f"[-1, 1, {EVIL}, [32, 3, 2]]"), 1, ["unknown block"], 640),
    ("python-arg-quoted", with_layer(1, f'[-1, 1, Conv, ["{EVIL}", 3, 2]]'), 1, ["whole number"], 640),
    ("python-arg-plain", with_layer(1, f"[-1, 1, Conv, [32, {EVIL}, 2]]"), 1, ["whole number"], 640),
    ("python-yaml-tag", with_layer(1, "[-1, 1, !!python/object/apply:os.system ['touch /tmp/pwned_yld'], [32]]"),
     None, ["yaml"], 640),
    ("alias-bomb", _billion_laughs(), None, ["alias"], 640),
    ("alias-simple", V5_HEADER + "backbone: &b\n  - [-1, 1, Conv, [16, 3, 2]]\nhead: *b\n", None,
     ["alias"], 640),
    ("layers-20000", _many_layers(20_000), None, ["layers", "KB", "large"], 640),
    ("layers-over-limit", _many_layers(limits.MAX_LAYERS + 1), None, [f"{limits.MAX_LAYERS} layers"], 640),
    ("repeats-10000", with_layer(2, "[-1, 10000, C3, [32]]"), 2, ["repeats"], 640),
    ("repeats-zero", with_layer(2, "[-1, 0, C3, [32]]"), 2, ["repeats"], 640),
    ("repeats-float", with_layer(2, "[-1, 1.5, C3, [32]]"), 2, ["repeats"], 640),
    ("arg-inf", with_layer(2, "[-1, 1, Conv, [.inf, 3, 2]]"), 2, ["whole number"], 640),
    ("arg-minus-inf", with_layer(2, "[-1, 1, Conv, [32, -.inf, 2]]"), 2, ["whole number"], 640),
    ("arg-1e400", with_layer(2, "[-1, 1, Conv, [32, 3, 1e400]]"), 2, ["whole number"], 640),
    ("arg-nan", with_layer(2, "[-1, 1, Conv, [32, .nan, 2]]"), 2, ["whole number"], 640),
    ("float-arg-nan", with_layer(2, "[-1, 1, C3, [32, True, 1, .nan]]"), 2, ["expects a number"], 640),
    ("float-arg-inf", with_layer(2, "[-1, 1, nn.Upsample, [None, .inf]]"), 2, ["expects a number"], 640),
    ("arg-dict", with_layer(2, "[-1, 1, Conv, [{a: 1}, 3, 2]]"), 2, ["whole number"], 640),
    ("arg-huge-int", with_layer(2, "[-1, 1, Focus, [32, 3, 1, 10000000000000000000000]]"), 2, ["outside"], 640),
    ("channels-100000", with_layer(4, "[-1, 1, Conv, [100000, 3, 2]]"), 4, ["c2"], 640),
    ("channels-over-max", with_layer(4, f"[-1, 1, Conv, [{limits.MAX_CHANNELS * 2}, 3, 2]]"), 4,
     ["channels"], 640),
    ("concat-channels-over-max", model(
        GOOD_BACKBONE[:4] + [f"[-1, 1, Conv, [{limits.MAX_CHANNELS}, 1, 1]]", "[[-1, 4], 1, Concat, [1]]"],
        ["[[1, 2, 3], 1, Detect, [nc, anchors]]"]), 5, ["channels"], 640),
    ("imgsz-not-32", model(), None, ["multiple of 32"], 650),
    ("imgsz-huge", model(), None, ["image size"], 100_000),
    ("imgsz-tiny", model(), None, ["image size"], 16),
    ("imgsz-zero", model(), None, ["image size"], 0),
    ("text-too-big", model() + "#" * (limits.MAX_TEXT_BYTES + 10) + "\n", None, ["KB"], 640),
    ("empty-text", "", None, ["empty"], 640),
    ("blank-text", "  \n\n  ", None, ["empty"], 640),
    ("yaml-syntax", V5_HEADER + "backbone: [[-1, 1, Conv, [16, 3, 2]]\nhead: {\n", None, ["yaml syntax"], 640),
    ("not-a-mapping", "- [-1, 1, Conv, [16, 3, 2]]\n- [-1, 1, Conv, [16, 3, 2]]\n", None, ["mapping"], 640),
    ("scalar-document", "just words\n", None, ["mapping"], 640),
    ("detect-anchor-levels", model(header=V5_HEADER.replace("  - [116,90, 156,198, 373,326]\n", "")), 5,
     ["anchor levels"], 640),
    ("detect-anchor-odd", model(head=["[[2, 3, 4], 1, Detect, [nc, [[10, 13, 16], [30, 61, 62], [1, 2, 3]]]]"]),
     5, ["pairs"], 640),
    ("detect-same-stride", model(head=["[[3, 3, 4], 1, Detect, [nc, anchors]]"]), 5, ["fine to coarse"], 640),
    ("detect-reads-detect", model(head=["[[2, 3, 4], 1, Detect, [nc, anchors]]",
                                        "[[2, 3, 5], 1, Detect, [nc, anchors]]"]), 6, ["detection head"], 640),
    ("nc-zero", model(header=V5_HEADER.replace("nc: 80", "nc: 0")), None, ["nc"], 640),
    ("nc-text", model(header=V5_HEADER.replace("nc: 80", "nc: abc")), None, ["nc"], 640),
    ("nc-huge", model(header=V5_HEADER.replace("nc: 80", f"nc: {limits.MAX_NC + 1}")), None, ["nc"], 640),
    ("nc-float", model(header=V5_HEADER.replace("nc: 80", "nc: 2.5")), None, ["nc"], 640),
    ("row-three-items", with_layer(2, "[-1, 1, Conv]"), 2, ["[from, number, module, args]"], 640),
    ("row-five-items", with_layer(2, "[-1, 1, Conv, [32, 3, 2], 9]"), 2, ["[from, number, module, args]"], 640),
    ("row-not-list", with_layer(2, "Conv"), 2, ["[from, number, module, args]"], 640),
    ("module-not-str", with_layer(2, "[-1, 1, 42, [32, 3, 2]]"), 2, ["module"], 640),
    ("anchors-name-without-key", model(header=V5_HEADER.split("anchors:")[0]), 5, ["anchors"], 640),
    # `anchors: 3` (a count per level) is YOLOv5's hub files' form and reads (tests/test_dialects.py)
    ("anchors-not-lists", model(header=V5_HEADER.split("anchors:")[0] + "anchors: [3, 4]\n"), None, ["anchors"], 640),
    ("anchors-zero", model(header=V5_HEADER.split("anchors:")[0] + "anchors: 0\n"), None, ["anchors"], 640),
    ("duplicate-detect", model(head=["[[2, 3, 4], 1, Detect, [nc, anchors]]",
                                     "[[2, 3, 4], 1, Detect, [nc, anchors]]"]), 6, ["exactly one Detect"], 640),
    ("no-detect", model(head=["[-1, 1, Conv, [32, 1, 1]]"]), 5, ["exactly one Detect"], 640),
    ("detect-not-last", model(head=["[[2, 3, 4], 1, Detect, [nc, anchors]]", "[4, 1, Conv, [32, 1, 1]]"]), 6,
     ["exactly one Detect"], 640),
    ("scale-not-listed", "nc: 80\nscale: q\nscales:\n  n: [0.33, 0.25, 1024]\n"
     + model(head=["[[2, 3, 4], 1, Detect, [nc]]"], header=""), None, ["scale"], 640),
    ("scales-malformed", "nc: 80\nscales:\n  n: [0.33, 0.25]\n"
     + model(head=["[[2, 3, 4], 1, Detect, [nc]]"], header=""), None, ["scale"], 640),
    ("width-multiple-negative", model(header=V5_HEADER.replace("width_multiple: 1.0", "width_multiple: -1")),
     None, ["width_multiple"], 640),
    ("ch-bad", model(header=V5_HEADER + "ch: 0\n"), None, ["ch"], 640),
]


@pytest.fixture(autouse=True)
def _no_pwned():
    if os.path.exists(PWNED):
        os.remove(PWNED)
    yield
    assert not os.path.exists(PWNED), "a spec ran code"


@pytest.mark.parametrize("text, layer, keywords, imgsz", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_spec_is_one_line_spec_error(text, layer, keywords, imgsz):
    t0 = time.perf_counter()
    with pytest.raises(SpecError) as info:
        pipeline(text, imgsz)
    assert time.perf_counter() - t0 < 2.0, "refusal must be fast"
    err = info.value
    msg = str(err)
    assert "\n" not in msg and "\r" not in msg, msg
    assert msg.strip(), "empty message"
    assert len(msg) < 600, msg
    assert any(k in msg for k in keywords), f"none of {keywords} in {msg!r}"
    if layer is not None:
        assert err.layer == layer, msg
        assert msg.startswith(f"layer {layer}"), msg
    assert err.as_dict()["error"] == msg


# A P6 detector (strides 8 / 16 / 32 / 64): 640 and 704 are multiples of 64, 672 is not.
P6 = model(["[-1, 1, Conv, [16, 3, 2]]"] * 6, ["[[2, 3, 4, 5], 1, Detect, [nc, anchors]]"],
           header=V5_HEADER + "  - [436,615, 739,380, 925,792]\n")


@pytest.mark.parametrize("imgsz", [640, 704, 768])
def test_p6_model_at_multiples_of_64(imgsz):
    graph = resolve(parse(P6)[0], imgsz)
    assert graph.strides == [8, 16, 32, 64] and graph.max_stride == 64


def test_imgsz_must_divide_true_largest_stride():
    with pytest.raises(SpecError) as info:
        resolve(parse(P6)[0], 672)
    msg = str(info.value)
    assert "largest stride 64" in msg and "try 704" in msg, msg


# Inputs that once got past resolve() and crashed inside torch (groups, even kernels, explicit padding):
# each must be a SpecError naming the layer.
KNOWN_CRASHES = [
    ("conv-groups-not-dividing-channels", with_layer(2, "[-1, 1, Conv, [32, 3, 2, None, 3]]"),
     "no check that groups divide c_in and c_out: torch's ValueError 'in_channels must be divisible by groups'"),
    ("ghostconv-groups-not-dividing", with_layer(2, "[-1, 1, GhostConv, [32, 3, 2, 5]]"),
     "same groups check missing for GhostConv / GSConv / Focus"),
    ("sppf-even-kernel", with_layer(2, "[-1, 1, SPPF, [32, 4]]"),
     "an even pool kernel grows the map by one pixel: torch.cat RuntimeError inside SPPF"),
    ("even-kernel-then-concat", model(GOOD_BACKBONE[:2] + ["[-1, 1, Conv, [32, 2, 1]]", "[[-1, 1], 1, Concat, [1]]",
                                                           "[-1, 1, Conv, [32, 3, 2]]", "[-1, 1, Conv, [32, 3, 2]]",
                                                           "[-1, 1, Conv, [32, 3, 2]]"],
                                      ["[[4, 5, 6], 1, Detect, [nc, anchors]]"]),
     "resolve takes a k=2 Conv's output as H / s, torch gives H + 1: Concat passes resolve, then "
     "count() dies with torch.cat RuntimeError"),
    ("explicit-padding-then-concat", model(GOOD_BACKBONE[:2] + ["[-1, 1, Conv, [32, 3, 1, 0]]", "[[-1, 1], 1, Concat, [1]]",
                                                                "[-1, 1, Conv, [32, 3, 2]]", "[-1, 1, Conv, [32, 3, 2]]",
                                                                "[-1, 1, Conv, [32, 3, 2]]"],
                                           ["[[4, 5, 6], 1, Detect, [nc, anchors]]"]),
     "resolve ignores an explicit padding p: Conv [32, 3, 1, 0] is 2 px smaller than resolved"),
]


@pytest.mark.parametrize("text", [pytest.param(c[1], id=c[0]) for c in KNOWN_CRASHES])
def test_known_crashes_are_spec_errors(text):
    with pytest.raises(SpecError) as info:
        pipeline(text, 640)
    assert "\n" not in str(info.value) and info.value.layer is not None


def test_unknown_block_suggests_close_match():
    with pytest.raises(SpecError) as info:
        pipeline(with_layer(1, "[-1, 1, Shufle_Block, [32, 2]]"))
    err = info.value
    assert err.layer == 1 and err.field == "module"
    assert "did you mean" in str(err) and "Shuffle_Block" in str(err)


def test_wrong_arg_type_names_the_argument():
    with pytest.raises(SpecError) as info:
        pipeline(with_layer(2, "[-1, 1, Conv, [64, 'three', 2]]"))
    err = info.value
    assert (err.layer, err.module, err.field) == (2, "Conv", "args")
    assert "argument 2 (k)" in str(err)


def test_alias_bomb_fails_fast():
    text = _billion_laughs()
    t0 = time.perf_counter()
    with pytest.raises(SpecError, match="alias"):
        parse(text)
    assert time.perf_counter() - t0 < 2.0


def test_yaml_node_limit():
    rows = ",".join(["1"] * (limits.MAX_YAML_NODES + 10))
    text = f"nc: 80\nbackbone: [{rows}]\nhead: []\n"
    assert len(text.encode()) < limits.MAX_TEXT_BYTES
    with pytest.raises(SpecError, match="too large"):
        parse(text)


def test_python_expressions_never_run():
    for text in (with_layer(1, f'[-1, 1, "{EVIL}", [32, 3, 2]]'), with_layer(1, f"[-1, 1, Conv, [32, {EVIL}, 2]]"),
                 with_layer(1, f'[-1, 1, Conv, ["{EVIL}", 3, 2]]'), model(header=V5_HEADER.replace("80", EVIL))):
        with pytest.raises(SpecError):
            pipeline(text)
    assert not os.path.exists(PWNED)


def test_parse_file_unreadable(tmp_path):
    with pytest.raises(SpecError, match="cannot read"):
        parse_file(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"nc: 80 # caf\xe9\n")
    with pytest.raises(SpecError, match="cannot read"):
        parse_file(str(bad))


# Width 1, stride-1 8192-channel 3x3 convs: each is 8192 * 8192 * 9 = 604 M parameters; 16 of them
# make a ~9.7-billion-parameter model, every layer within the channel limit.
HUGE = model(GOOD_BACKBONE + ["[-1, 1, Conv, [8192, 3, 1]]"] * 16,
             ["[[2, 3, -1], 1, Detect, [nc, anchors]]"])


def test_huge_model_refused_by_count_and_build_before_allocating():
    spec, _ = parse(HUGE)
    graph = resolve(spec)  # within every per-layer limit
    for refuse in (count, build):
        tracemalloc.start()
        t0 = time.perf_counter()
        try:
            with pytest.raises(SpecError) as info:
                refuse(graph)
            elapsed = time.perf_counter() - t0
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        msg = str(info.value)
        assert "parameters" in msg and "\n" not in msg
        assert f"{limits.MAX_PARAMS:,}" in msg
        assert elapsed < 5.0
        assert peak < 50 * 2**20, f"{refuse.__name__} allocated {peak / 2**20:.0f} MiB before refusing"


def test_process_keeps_working_after_bad_input():
    for case in CASES:
        with pytest.raises(SpecError):
            pipeline(case[1], case[4])
    with pytest.raises(SpecError):
        count(resolve(parse(HUGE)[0]))
    c = pipeline(open(preset_path("yolov5n")).read())
    assert c.params == 1_872_157
    assert pipeline(model()).params > 0


@pytest.mark.parametrize("module, words", [("Segment", "segmentation head"), ("RTDETRDecoder", "RT-DETR"),
                                           ("YOLOEDetect", "open-vocabulary"), ("Classify", "detection models")])
def test_known_upstream_modules_not_built_say_why(module, words):
    """Upstream modules this tool deliberately does not build are named with the reason, not 'unknown'."""
    text = f"nc: 2\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\nhead:\n  - [[0], 1, {module}, [nc]]\n"
    with pytest.raises(SpecError, match=words) as err:
        resolve(parse(text)[0], 64)
    assert "unknown" not in str(err.value) and err.value.layer == 1
