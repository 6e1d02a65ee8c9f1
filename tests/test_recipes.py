"""graph/recipes.py: every recipe on its stock model gives its article's preset exactly (rows and counts);
the backbone recipes find the stock taps from the graph; a model a recipe does not fit is refused in one
line naming the layer; `launch.py edit --recipe` and `--list-recipes`."""
import dataclasses
import os
import subprocess
import sys

import pytest

from graph import edit
from graph.counts import count
from graph.errors import SpecError
from graph.recipes import list_recipes, recipe
from graph.resolve import resolve
from graph.source import Source, source
from graph.templates import preset_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def spec_of(name, nc=None):
    return source(preset=name, nc=nc).spec


def rows(spec):
    return [(lay.from_, lay.n, lay.module, lay.args, lay.section) for lay in spec.layers]


# (stock model, its nc, recipe, the article's preset, params, GFLOPs at 640)
PRESET_OF = [("yolov8n", None, "ghost", "yolov8n-ghostnet", 2_502_908, 7.08),
             ("yolov5s", None, "slim-neck", "yolov5s-slimneck", 7_323_133, 15.28),  # with the res convs upstream builds (tests/test_dead_params.py)
             ("yolov5s", None, "repvgg", "yolov5s-repvgg", 7_411_389, 17.07),
             ("yolov5s", None, "shufflenet", "yolov5-shufflenetv2", 787_085, 3.02),
             ("yolov5s", None, "mobilenetv3-small", "yolov5-mobilenetv3-small", 5_235_267, 11.79),
             ("yolov5s", 20, "mobilenetv3-large", "yolov5-mobilenetv3-large", 5_590_759, 9.65)]
STRUCTURAL = ("shufflenet", "mobilenetv3-small", "mobilenetv3-large")


@pytest.mark.parametrize("base,nc,name,preset,params,gflops", PRESET_OF)
def test_recipe_reproduces_its_article_preset(base, nc, name, preset, params, gflops):
    done = recipe(spec_of(base, nc), name)
    want = spec_of(preset)
    got, exp = resolve(done.spec), resolve(want)
    assert [n.module for n in got.layers] == [n.module for n in exp.layers]
    assert [n.args for n in got.layers] == [n.args for n in exp.layers] or name == "slim-neck"
    assert [n.sources for n in got.layers] == [n.sources for n in exp.layers]
    if name != "slim-neck":  # the yaml rows themselves (from, n, module, args), and the multiples
        assert rows(done.spec) == rows(want)
        assert done.spec == want
    a, b = count(got), count(exp)
    assert (a.params, round(a.gflops, 2)) == (b.params, round(b.gflops, 2)) == (params, gflops)


@pytest.mark.parametrize("name", STRUCTURAL)
def test_a_backbone_recipe_writes_the_presets_yaml_text(name):
    base, nc, _, preset, *_ = next(p for p in PRESET_OF if p[2] == name)
    done = recipe(spec_of(base, nc), name)
    written = Source(done.spec).dump().splitlines()[1:]  # all but the title line
    with open(preset_path(preset), encoding="utf-8") as fh:
        assert written == fh.read().splitlines()[1:]


def test_slim_neck_differs_from_its_preset_only_in_an_unused_written_shortcut():
    done = recipe(spec_of("yolov5s"), "slim-neck")
    diff = [i for i, (a, b) in enumerate(zip(done.spec.layers, spec_of("yolov5s-slimneck").layers)) if a != b]
    assert diff == [13, 17, 20, 23]
    assert all(done.spec.layers[i].args[1] is False for i in diff)


def test_gsconv_neck_swaps_the_neck_convs():
    done = recipe(spec_of("yolov5s"), "gsconv-neck")
    assert done.changed == (10, 14, 18, 21)
    assert all(done.spec.layers[i].module == "GSConv" for i in done.changed)


def test_recipes_listed_with_their_article_and_unknown_refused():
    listed = list_recipes()
    assert [n for n, _ in listed] == ["ghost", "gsconv-neck", "slim-neck", "repvgg", "shufflenet",
                                      "mobilenetv3-small", "mobilenetv3-large"]
    assert all(text.startswith("article 00") and "\n" not in text for _, text in listed)
    with pytest.raises(SpecError, match="unknown recipe 'ghostt'; recipes are ghost"):
        recipe(spec_of("yolov8n"), "ghostt")
    with pytest.raises(SpecError, match="recipe repvgg changes nothing"):
        recipe(spec_of("yolov5s-repvgg"), "repvgg")
    for name, preset in (("shufflenet", "yolov5-shufflenetv2"), ("mobilenetv3-small", "yolov5-mobilenetv3-small"),
                         ("mobilenetv3-large", "yolov5-mobilenetv3-large")):
        with pytest.raises(SpecError, match=f"recipe {name} changes nothing"):
            recipe(spec_of(preset), name)


def test_backbone_recipes_find_the_stock_taps_from_the_graph():
    """A layer more in the backbone moves every tap; the recipe still rewires the neck to the new taps."""
    spec = spec_of("yolov5s")
    moved = edit.insert(spec, 2, "[-1, 1, h_swish, []]").spec  # P3 4 -> 5, P4 6 -> 7, SPPF 9 -> 10
    for name in STRUCTURAL:
        assert recipe(moved, name).spec == recipe(spec, name).spec
    done = recipe(moved, "mobilenetv3-small")
    assert any("P3 5 -> 3, P4 7 -> 8, P5 10 -> 11" in n and "moved by +1" in n for n in done.notes)


def test_backbone_recipes_on_the_nano_model():
    """shufflenet / mobilenetv3-small write the article's neck whatever the scale; -large keeps the
    model's neck at its own widths (yolov5n: a quarter)."""
    for name in ("shufflenet", "mobilenetv3-small"):
        assert recipe(spec_of("yolov5n"), name).spec == recipe(spec_of("yolov5s"), name).spec
    done = recipe(spec_of("yolov5n"), "mobilenetv3-large").spec
    assert [lay.args[0] for lay in done.layers[16:] if lay.module in ("Conv", "C3")] == \
           [128, 128, 64, 64, 64, 128, 128, 256]
    assert (done.depth_multiple, done.width_multiple) == (1.0, 1.0)
    resolve(done)


def test_a_recipe_on_a_model_it_does_not_fit_is_refused_naming_the_layer():
    with pytest.raises(SpecError, match="^recipe shufflenet fits a YOLOv5 model .* Ultralytics scales$"):
        recipe(spec_of("yolov8n"), "shufflenet")
    with pytest.raises(SpecError) as err:  # a neck that is not the article's YOLOv5 PAN
        recipe(spec_of("yolov5-shufflenetv2"), "mobilenetv3-small")
    assert str(err.value).startswith("layer 10 (DWConvblock): recipe mobilenetv3-small sets its article's widths")
    p2 = edit.insert(spec_of("yolov5s"), 23, "[2, 1, Conv, [64, 1, 1]]").spec  # a side branch at stride 4
    with pytest.raises(SpecError) as err:
        recipe(p2, "mobilenetv3-large")
    assert str(err.value) == ("layer 24 (Conv): reads layer 2 (C3) at stride 4; the mobilenetv3-large backbone "
                              "offers P3 (stride 8), P4 (stride 16), P5 (stride 32) only")
    spec = spec_of("yolov5s")  # the neck reads two backbone layers at stride 32 (8 and the SPPF, 9)
    two = dataclasses.replace(spec, layers=spec.layers[:22] + (dataclasses.replace(spec.layers[22], from_=(-1, 10, 8)),)
                              + spec.layers[23:])
    resolve(two)
    with pytest.raises(SpecError, match=r"^layer 22 \(Concat\): reads layer 8 \(C3\) at stride 32, and layer 9 "
                       r"\(SPPF\) is read at that stride too; the mobilenetv3-small backbone has one P5 tap$"):
        recipe(two, "mobilenetv3-small")


def test_apply_runs_a_backbone_recipe_among_other_edits():
    spec, notes = edit.apply(spec_of("yolov5s"), [("recipe", "mobilenetv3-small"), ("set", "15:n=1")])
    assert spec.layers[15].n == 1 and notes[0].startswith("recipe mobilenetv3-small: article 003")


def run(*args):
    return subprocess.run([sys.executable, "launch.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_cli_lists_the_recipes_and_applies_a_backbone_recipe(tmp_path):
    p = run("edit", "--list-recipes")
    assert p.returncode == 0 and [line.split()[0] for line in p.stdout.splitlines()] == [n for n, _ in list_recipes()]
    out = tmp_path / "s.yaml"
    p = run("edit", "yolov5s", "--recipe", "shufflenet", "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert "after:  787,085 parameters, 3.02 GFLOPs" in p.stdout
    assert source(str(out)).spec == spec_of("yolov5-shufflenetv2")
