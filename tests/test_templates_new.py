"""Today's generation in the template library (issue 12): the YOLO11 / YOLO26 fragments and presets
count exactly as Ultralytics 8.4 prints its own yolo11n/s and yolo26n/s; the two light YOLO26 designs
compose, count, export and train; every stock-only composition counts what Ultralytics builds from the
file we write; and a written Ultralytics-dialect yaml lists its chosen scale first, so that Ultralytics
(which ignores `scale:` and, under a name that names no scale, builds the first entry of `scales:`)
builds that scale under any file name.

Figures measured with the instrument (ultralytics 8.4.190 in a scratch virtualenv, never imported here):
`YOLO("yolo11n.yaml").info()` for the stock models, and for the compositions each yaml that
`launch.py compose` writes, saved as `design.yaml` (tests/fixtures/ultra/compositions-ul-8.4.190.json).
"""
from __future__ import annotations

import functools
import itertools
import json
import os
import re
import subprocess
import sys

import pytest
import torch
import yaml

from app import handlers as h
from engine.checkpoint import load_checkpoint
from engine.data.synthetic import ensure_shapes
from engine.deploy.export import export_onnx
from engine.loading import load_any
from engine.train.trainer import Events, TrainConfig, Trainer
from graph.compose import SCALES, compose
from graph.counts import count
from graph.dump import chosen_first, to_yaml
from graph.errors import SpecError
from graph.model import build
from graph.resolve import resolve
from graph.source import Source, source
from graph.spec import parse, parse_file
from graph.templates import fragments, preset_path, presets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ULTRA = os.path.join(ROOT, "tests", "fixtures", "ultra")

# Ultralytics 8.4.190, YOLO("<name>.yaml").info(): (params, layers, GFLOPs) at 640, nc 80. Our preset
# files, loaded there as design.yaml, print the same. (The yaml comments' 6.6 / 21.7 / 6.1 / 22.8 are
# the older, non-stride-aware GFLOPs: our gflops_stride, 6.61 / 21.72 / 6.12 / 22.84.)
STOCK_NEW = {
    "yolo11n": (2_624_080, 181, 6.6733184),
    "yolo11s": (9_458_752, 181, 21.8363392),
    "yolo26n": (2_572_280, 260, 6.2396672),
    "yolo26s": (10_009_784, 260, 23.0793216),
}
LIGHT = ("yolo26n-ghostnet", "yolo26n-shufflenetv2")
ULTRALYTICS_HEADS = [n for n, f in fragments("head").items() if f["dialect"] == "ultralytics"]


@functools.lru_cache(maxsize=None)
def preset_counts(name: str):
    spec, notes = parse_file(preset_path(name))
    assert notes == []
    return count(resolve(spec, 640))


def test_new_fragments_and_presets_are_listed():
    assert {"yolo11", "yolo26"} <= set(fragments("backbone"))
    assert {"yolo11-pan", "yolo26-pan"} <= set(fragments("neck"))
    assert {"yolo11", "yolo26"} <= set(fragments("head"))
    assert set(STOCK_NEW) | set(LIGHT) <= set(presets())
    for name in (*STOCK_NEW, *LIGHT):
        assert presets()[name]["picks"], name  # composed from the library, not a file of its own


# ---------------------------------------------------------------- the stock models of today

@pytest.mark.parametrize("name", list(STOCK_NEW))
def test_new_stock_presets_count_as_ultralytics_prints(name):
    params, layers, gflops = STOCK_NEW[name]
    c = preset_counts(name)
    assert (c.params, c.layers) == (params, layers)
    assert c.gflops_ultralytics == pytest.approx(gflops, abs=1e-6)
    assert c.layers_by.lower().startswith("ultralytics")


@pytest.mark.parametrize("family", ["yolo11", "yolo26"])
def test_composed_family_is_ultralytics_own_layer_list(family):
    """yolo11 / yolo26 backbone + neck + head compose to the very rows of Ultralytics' yolo11.yaml /
    yolo26.yaml (kept as data in tests/fixtures/ultra), with its scales and top-level keys."""
    upstream, _ = parse_file(os.path.join(ULTRA, f"ul-{family}.yaml"))
    for scale in SCALES:
        spec = compose(family, f"{family}-pan", family, scale=scale)
        assert spec.layers == upstream.layers and spec.extra == upstream.extra
        assert dict(spec.scales) == dict(upstream.scales) and spec.scale == scale
        assert spec.dialect == upstream.dialect == "ultralytics"


def test_yolo11_builds_yolo11s_class_branch():
    """C3k2 clears upstream's `legacy` flag: the DFL Detect builds YOLO11's depth-wise class branch.
    The yolov8 head serves YOLO11 at n and s: its depth 0.33 rounds YOLO11's repeats of 2 to 1 as 0.50
    does, and the widths are the same (YOLO11's own m and x differ: the yolo11 head carries its scales)."""
    graph = resolve(parse_file(preset_path("yolo11n"))[0], 640)
    assert graph.legacy is False and graph.head.ctor_kw.get("legacy") is False
    assert resolve(parse_file(preset_path("yolov8n"))[0], 640).legacy is True
    for scale in ("n", "s"):
        c = count(resolve(compose("yolo11", "yolo11-pan", "yolov8", scale), 640))
        assert (c.params, c.layers) == STOCK_NEW[f"yolo11{scale}"][:2]
    assert compose("yolo11", "yolo11-pan", "yolov8", "m").multiples != compose("yolo11", "yolo11-pan", "yolo11",
                                                                                "m").multiples


# ---------------------------------------------------------------- two light designs of the new generation

def test_light_designs_are_lighter_than_yolo26n():
    full = preset_counts("yolo26n")
    for name in LIGHT:
        c = preset_counts(name)
        assert 0 < c.params < 0.8 * full.params and 0 < c.gflops_ultralytics < full.gflops_ultralytics, name
        assert dict(parse_file(preset_path(name))[0].extra) == {"end2end": True, "reg_max": 1}
    assert (preset_counts("yolo26n-ghostnet").params, preset_counts("yolo26n-shufflenetv2").params) == \
        (1_880_696, 1_178_040)


@pytest.mark.parametrize("name", LIGHT)
def test_light_design_exports_end_to_end(name, tmp_path):
    r = export_onnx(load_any(name, 64), str(tmp_path / f"{name}.onnx"), 64)
    assert r.head.startswith("end-to-end") and r.max_abs_diff <= 1e-3
    assert os.path.getsize(r.path) > 0


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ensure_shapes(root=str(tmp_path_factory.mktemp("shapes")), n_train=8, n_val=4, imgsz=64, seed=1)


@pytest.mark.parametrize("name", LIGHT)
def test_light_design_trains_one_epoch(name, tiny, tmp_path):
    seen = []
    events = Events()
    events.on("*", seen.append)
    c = TrainConfig(preset=name, data=tiny, epochs=1, imgsz=64, batch=4, project=str(tmp_path), name="exp",
                    close_mosaic=0, warmup_epochs=0.0)
    result = Trainer(c, events).fit()
    ends = [e for e in seen if e["event"] == "batch_end"]
    assert ends and all(torch.isfinite(torch.tensor(list(e["loss"].values()))).all() for e in ends)
    loaded = load_checkpoint(result["best"])
    assert loaded.trained and loaded.model.nc == 4
    assert parse(loaded.yaml)[0].layers == parse_file(preset_path(name))[0].layers


# ---------------------------------------------------------------- the composition matrix

COMBOS = list(itertools.product(fragments("backbone"), fragments("neck"), fragments("head")))


def test_every_combination_resolves_at_every_scale():
    """tests/test_templates.py builds and runs every combination at n; here each one resolves at every
    scale (channel caps, C3k2's c3k at m / l / x, YOLO26's and YOLO11's depth)."""
    failed = []
    for (b, k, hd), scale in itertools.product(COMBOS, SCALES):
        try:
            graph = resolve(compose(b, k, hd, scale=scale), 640)
            assert graph.strides == [8, 16, 32]
        except SpecError as err:  # a combination that cannot work must say why, in one line
            assert "\n" not in str(err)
            failed.append((b, k, hd, scale, str(err)))
    assert failed == []


UL_FIGURES = json.load(open(os.path.join(ULTRA, "compositions-ul-8.4.190.json"), encoding="utf-8"))


def _split(design: str) -> tuple[str, str, str, str]:
    """'yolo26-yolov8-pan-yolo11-m' -> its picks (fragment names contain dashes: match them whole)."""
    for b, k, hd in itertools.product(fragments("backbone"), fragments("neck"), fragments("head")):
        for s in SCALES:
            if design == f"{b}-{k}-{hd}-{s}":
                return b, k, hd, s
    raise AssertionError(design)


def test_the_figures_cover_every_stock_only_ultralytics_composition():
    stock_b = ("yolov5", "yolov8", "yolo11", "yolo26")
    stock_n = ("yolov5-pan", "yolov8-pan", "yolo11-pan", "yolo26-pan")
    want = {f"{b}-{k}-{hd}-{s}" for b, k, hd, s in itertools.product(stock_b, stock_n, ULTRALYTICS_HEADS, SCALES)}
    assert {row["design"] for row in UL_FIGURES["compositions"]} == want and len(want) == 240


@pytest.mark.parametrize("backbone", ["yolov5", "yolov8", "yolo11", "yolo26"])
def test_stock_compositions_count_what_ultralytics_builds_from_our_file(backbone):
    """Ultralytics 8.4 built every file we write for a stock-only composition, under the name
    design.yaml, to these figures; ours are the same (params and layers to the unit)."""
    rows = [r for r in UL_FIGURES["compositions"] if _split(r["design"])[0] == backbone]
    assert len(rows) == 60
    for row in rows:
        b, k, hd, s = _split(row["design"])
        c = count(resolve(compose(b, k, hd, scale=s), 640))
        assert (c.params, c.layers) == (row["params"], row["layers"]), row["design"]
        assert c.gflops_ultralytics == pytest.approx(row["gflops"], abs=1e-6), row["design"]


# ---------------------------------------------------------------- written files build their scale upstream

def ultralytics_scale(text: str, filename: str) -> str:
    """The scale Ultralytics 8.4 builds from `text` saved as `filename` (facts from its yaml_model_load
    and parse_model): the scale letter its file name carries after `yolo<digits>`; else, whatever
    `scale:` says, the first entry of `scales:`."""
    m = re.search(r"yolo(e-)?[v]?\d+([nslmx])", os.path.splitext(os.path.basename(filename))[0])
    return m.group(2) if m else next(iter(yaml.safe_load(text)["scales"]))


def written_scales(text: str) -> tuple[str | None, list[str]]:
    data = yaml.safe_load(text)
    return data.get("scale"), list(data["scales"])


@pytest.mark.parametrize("head", ULTRALYTICS_HEADS)
@pytest.mark.parametrize("scale", SCALES)
def test_composed_yaml_lists_the_chosen_scale_first(head, scale):
    src = source(picks={"backbone": "yolov8", "neck": "yolov8-pan", "head": head, "scale": scale})
    text = src.yaml()
    key, order = written_scales(text)
    template = list(fragments("head")[head]["scales"])
    assert key == scale and order[0] == scale and order == [scale] + [s for s in template if s != scale]
    assert f"scales:  # [depth, width, max_channels]; {scale} first: Ultralytics ignores `scale:`" in text
    for name in ("design.yaml", f"{src.spec.name}.yaml", "model.yaml"):
        assert ultralytics_scale(text, name) == scale
    back, notes = parse(text)
    assert back == src.spec and back.scale == scale and back.multiples == src.spec.multiples and notes == []
    assert h.compose_yaml("yolov8", "yolov8-pan", head, scale, 80) == text  # the page's download


@pytest.mark.parametrize("name", [n for n, p in presets().items() if p["picks"]])
def test_preset_files_build_their_scale_upstream(name):
    text = open(preset_path(name), encoding="utf-8").read()
    spec = parse(text)[0]
    if spec.scales:
        assert written_scales(text) == (spec.scale, [s for s, _ in spec.scales]) and spec.scales[0][0] == spec.scale
        assert ultralytics_scale(text, "design.yaml") == presets()[name]["picks"]["scale"]


@pytest.mark.parametrize("scale", ["s", "m", "x"])
def test_a_scale_override_writes_that_scale_first(scale):
    src = source("yolo26n", scale=scale, nc=3)
    assert src.spec.scales == chosen_first(parse_file(preset_path("yolo26n"))[0].scales, scale)
    assert written_scales(src.yaml()) == (scale, [scale] + [s for s in SCALES if s != scale])
    assert ultralytics_scale(src.yaml(), "design.yaml") == scale
    assert src.spec.name == f"yolo26{scale}" and src.yaml().startswith(f"# yolo26{scale}\n")  # saved by its name:
    assert ultralytics_scale(src.yaml(), f"{src.spec.name}.yaml") == scale  # the same scale in Ultralytics
    assert src.spec == source(picks={"backbone": "yolo26", "neck": "yolo26-pan", "head": "yolo26", "scale": scale},
                              nc=3).spec


def test_a_file_whose_scale_is_not_first_is_noted_and_written_first(tmp_path):
    text = open(preset_path("yolov8n"), encoding="utf-8").read().replace("scale: n\n", "scale: m\n")
    assert written_scales(text) == ("m", list("nsmlx")) and ultralytics_scale(text, "mine.yaml") == "n"
    src = source(text=text, name="mine")
    assert src.text is text  # what the user gave is shown as given ...
    assert any("scale m is not listed first" in n and "builds n" in n for n in src.notes)
    written = Source(src.spec, title="mine").dump()  # ... and a file we write from it lists m first
    assert written_scales(written) == ("m", ["m", "n", "s", "l", "x"])
    assert parse(written)[0].multiples == src.spec.multiples == (0.67, 0.75, 768)
    assert source(preset="yolov8s").notes == ()  # our own files need no such note


def run_cli(*args):
    p = subprocess.run([sys.executable, "launch.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return p


def test_cli_compose_and_edit_write_the_chosen_scale_first(tmp_path):
    out = tmp_path / "design.yaml"
    run_cli("compose", "--backbone", "yolo11", "--neck", "yolo11-pan", "--head", "yolo11", "--scale", "m",
            "-o", str(out))
    assert written_scales(out.read_text()) == ("m", ["m", "n", "s", "l", "x"])
    assert ultralytics_scale(out.read_text(), str(out)) == "m"
    mine = tmp_path / "mine.yaml"  # a file of the user's: `scale: l`, n listed first
    mine.write_text(open(preset_path("yolov8n"), encoding="utf-8").read().replace("scale: n\n", "scale: l\n"))
    edited = tmp_path / "edited.yaml"
    p = run_cli("edit", str(mine), "--set", "0:c2=32", "-o", str(edited))
    assert "scale l is not listed first" in p.stderr + p.stdout
    assert written_scales(edited.read_text()) == ("l", ["l", "n", "s", "m", "x"])
    assert ultralytics_scale(edited.read_text(), str(edited)) == "l"


def test_to_yaml_keeps_a_spec_without_a_scale_as_it_is():
    spec = parse(open(os.path.join(ULTRA, "ul-yolo11.yaml"), encoding="utf-8").read())[0]
    assert spec.scale is None
    text = to_yaml(spec)
    assert written_scales(text) == (None, list("nsmlx")) and "first:" not in text and parse(text)[0] == spec
    assert build(resolve(spec, 64)) is not None
