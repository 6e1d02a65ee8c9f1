"""The export pack's layer builder and `register()` (engine/deploy/pack_runtime.py, pack_builder.py).

Ultralytics and YOLOv5 are never imported here (GPL / AGPL): the builder is driven with stand-in
"tools" made of this project's own blocks, with each tool's calling convention for its heads, and
`register()` meets a stand-in `ultralytics.nn.tasks` inside a fresh interpreter. The real tools were
checked in scratch virtualenvs (the pack's README says which versions).
"""
import io
import json
import subprocess
import sys
import types
import zipfile

import pytest
import torch
import torch.nn as nn
import yaml

import blocks
from blocks.conv import Conv
from blocks.heads import DetectV10, detect_head
from engine.deploy.pack import export_pack, undefined_names
from graph.counts import count
from graph.model import build
from graph.resolve import resolve
from graph.spec import parse
from graph.templates import preset_path, presets


def _needs_the_pack(name: str) -> bool:
    spec = parse(open(preset_path(name)).read())[0]
    return any(spec.dialect not in blocks.get_block(lay.module, spec.dialect).upstream for lay in spec.layers)


CUSTOM = [n for n in presets() if _needs_the_pack(n)]  # the presets register() builds in a tool
STRIDES = [8, 16, 32]


def pack_of(text: str, name: str = "model") -> tuple[types.ModuleType, str]:
    """The pack's module (exec'd as `yolo_lite_blocks`) and its source, for a design's yaml text."""
    graph = resolve(parse(text, name=name)[0], 64)
    src = zipfile.ZipFile(io.BytesIO(export_pack(graph, text))).read("yolo_lite_blocks.py").decode()
    mod = types.ModuleType("yolo_lite_blocks")
    exec(compile(src, "yolo_lite_blocks.py", "exec"), mod.__dict__)
    return mod, src


class ToolConv(Conv):
    default_act = nn.SiLU()  # upstream's Conv: one activation module, class-wide


class UltralyticsDetect(nn.Module):
    """Ultralytics 8.4's Detect signature (nc, reg_max, end2end, ch) and class-wide `legacy` flag,
    over our head."""

    legacy = True

    def __new__(cls, nc, reg_max=16, end2end=False, ch=()):
        return detect_head(nc, ch=list(ch), strides=STRIDES[:len(ch)], reg_max=reg_max, end2end=bool(end2end),
                           legacy=cls.legacy)


class UltralyticsV10Detect(nn.Module):
    def __new__(cls, nc, ch=()):
        return DetectV10(nc, list(ch), STRIDES[:len(ch)])


class YOLOv5Detect(nn.Module):
    def __new__(cls, nc, anchors=(), ch=()):  # YOLOv5 7.0's Detect(nc, anchors, ch)
        return detect_head(nc, anchors, ch=list(ch), strides=STRIDES[:len(ch)])


def stand_in(pack, tool: str):
    """A `Tool` whose stock classes are our blocks of the names the registry says it has."""
    classes = {info.name: blocks.get_block(info.name, tool).cls for info in blocks.list_blocks()
               if tool in info.upstream and not info.cls.__module__.startswith("torch")}
    classes["Conv"] = ToolConv
    if tool == "yolov5":
        classes["Detect"] = YOLOv5Detect
    else:
        classes.update(Detect=UltralyticsDetect, v10Detect=UltralyticsV10Detect)
    return pack.Tool(tool, tool, classes)


@pytest.mark.parametrize("name", presets())
def test_builder_counts_every_preset_as_launch_info(name):
    """Every preset, through the pack's builder with its dialect's tool: each layer holds the
    parameters `launch.py info` prints for it, the total too, and the layers are wired as the yaml
    says (.i, .f, .type, .np; the outputs read later are kept)."""
    text = open(preset_path(name)).read()
    spec = parse(text, name=name)[0]
    graph = resolve(spec, 64)
    counts = count(graph)
    pack, src = pack_of(text, name)
    assert undefined_names(src) == set()
    with torch.device("meta"):
        layers, save = pack.build_layers(yaml.safe_load(text), 3, stand_in(pack, spec.dialect), verbose=False)
    assert [m.np for m in layers] == [row["params"] for row in counts.per_layer]
    assert sum(p.numel() for p in layers.parameters()) == counts.params
    tupled = lambda f: tuple(f) if isinstance(f, list) else f  # noqa: E731 (yaml lists, spec tuples)
    assert [(m.i, tupled(m.f)) for m in layers] == [(k, lay.from_) for k, lay in enumerate(spec.layers)]
    assert set(graph.save) <= set(save) and all(isinstance(m.type, str) and "." in m.type for m in layers)


@pytest.mark.parametrize("name", [n for n in presets() if parse(open(preset_path(n)).read())[0].scales])
def test_builder_follows_the_scale_as_resolve_does(name):
    """At scale l (C3k2's c3k, A2C2f's extra args, max_channels 512) the builder's model holds the
    parameters our own model of that scale holds."""
    text = open(preset_path(name)).read()
    spec, _ = parse(text, name=name)[0].with_overrides(scale="l")
    pack, _ = pack_of(text, name)
    data = dict(yaml.safe_load(text), scale="l")
    with torch.device("meta"):
        layers, _ = pack.build_layers(data, 3, stand_in(pack, spec.dialect), verbose=False)
        ours = build(resolve(spec, 64), device="meta")
    assert sum(p.numel() for p in layers.parameters()) == sum(p.numel() for p in ours.parameters())


def run_layers(layers, save, x):
    """The tools' forward: each layer reads the previous output or the kept ones its `.f` names."""
    y, kept = x, []
    for m in layers:
        if m.f != -1:
            y = kept[m.f] if isinstance(m.f, int) else [y if j == -1 else kept[j] for j in m.f]
        y = m(y)
        kept.append(y if m.i in save else None)
    return y


@pytest.mark.parametrize("name", CUSTOM)
def test_builder_model_computes_what_ours_computes(name):
    """With our weights loaded, the builder's layers run the way the tools run them give our model's
    output (the pack's blocks, and the stand-in tool's stock ones)."""
    text = open(preset_path(name)).read()
    spec = parse(text, name=name)[0]
    pack, _ = pack_of(text, name)
    torch.manual_seed(0)
    ours = build(resolve(spec, 64)).eval()
    layers, save = pack.build_layers(yaml.safe_load(text), 3, stand_in(pack, spec.dialect), verbose=False)
    layers.load_state_dict({k.removeprefix("model."): v for k, v in ours.state_dict().items()})
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(run_layers(layers.eval(), save, x), ours(x), atol=1e-5)


def test_builder_refuses_what_it_cannot_build_with_a_clear_message():
    text = open(preset_path("yolov5-shufflenetv2")).read()
    pack, _ = pack_of(text)
    data = yaml.safe_load(text)
    with pytest.raises(ValueError, match="is for YOLOv5 7.0.*ultralytics cannot train its head"):
        pack.build_layers(data, 3, stand_in(pack, "ultralytics"), verbose=False)
    data["backbone"][1][2] = "GhostBottleneckV9"
    with pytest.raises(ValueError, match="layer 1: this pack has no block 'GhostBottleneckV9'"):
        pack.build_layers(data, 3, stand_in(pack, "yolov5"), verbose=False)


def test_yaml_activation_reaches_the_pack_blocks_and_the_tool_gets_its_own_back():
    text = open(preset_path("yolov8n-ghostnet")).read() + "activation: nn.LeakyReLU(0.1)\n"
    pack, _ = pack_of(text)
    tool = stand_in(pack, "ultralytics")
    before = ToolConv.default_act
    layers, _ = pack.build_layers(yaml.safe_load(text), 3, tool, verbose=False)
    assert ToolConv.default_act is before
    ghost = next(m for m in layers if m.type.endswith(".C2fGhost"))
    acts = {type(m.act) for m in ghost.modules() if type(m).__name__ == "Conv"}
    assert acts == {nn.LeakyReLU, nn.Identity}  # the activated Convs, and GhostBottleneck's linear ones


# A fresh interpreter (-I: this project out of sight) with a stand-in `ultralytics.nn.tasks`: the
# pack's own classes as its stock ones, its own parse_model, and a model class that looks the name
# up at each call as Ultralytics' does.
REGISTER = r"""
import json, sys, types, warnings
sys.path.insert(0, sys.argv[1])
for blocked in ("ultralytics", "yolov5", "models"):
    sys.modules[blocked] = None  # neither tool can be imported
import torch.nn as nn
import yolo_lite_blocks as pack
out = {"tools": [m for m in sys.modules if m.split(".")[0] in ("ultralytics", "yolov5", "models")
                 and sys.modules[m] is not None]}
try:
    pack.register()
except ImportError as err:
    out["none"] = str(err)
try:
    pack.register("darknet")
except ValueError as err:
    out["bad"] = str(err)
ul, nn_, tasks = (types.ModuleType(n) for n in ("ultralytics", "ultralytics.nn", "ultralytics.nn.tasks"))
ul.__version__ = "8.3.0"
class Detect(nn.Module):
    legacy = True
    def __new__(cls, nc, reg_max, end2end, ch):
        return pack.detect_head(nc, ch=ch, strides=[8, 16, 32], reg_max=reg_max, end2end=bool(end2end),
                                legacy=cls.legacy)
class Conv(pack.Conv):
    default_act = nn.SiLU()  # upstream's: one module, class-wide
tasks.__dict__.update({k: v for k, v in vars(pack).items() if isinstance(v, type)}, Detect=Detect, Conv=Conv)
exec("def parse_model(d, ch, verbose=True):\n    return 'original', []\n"
     "def model(d):\n    return parse_model(d, ch=3, verbose=False)\n", tasks.__dict__)
original = tasks.parse_model
sys.modules.update({"ultralytics": ul, "ultralytics.nn": nn_, "ultralytics.nn.tasks": tasks})
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    out["registered"] = pack.register() + pack.register("ultralytics")
out["warned"] = [str(w.message) for w in caught]
out["once"] = tasks.parse_model.yolo_lite_original is original
import yaml
d = yaml.safe_load(open(sys.argv[2]))
layers, save = tasks.model(d)
out["params"] = sum(p.numel() for p in layers.parameters())
stock = {"nc": 2, "scales": {"n": [1, 1, 64]}, "backbone": [[-1, 1, "Conv", [16, 3, 2]]],
         "head": [[-1, 1, "Detect", ["nc"]]]}
out["stock"] = tasks.model(stock)[0]
pack.unregister()
out["restored"] = tasks.parse_model is original
print(json.dumps(out))
"""


def test_register_patches_the_tool_it_finds_and_says_when_there_is_none(tmp_path):
    name = "yolov8n-ghostnet"
    text = open(preset_path(name)).read()
    graph = resolve(parse(text, name=name)[0], 64)
    zipfile.ZipFile(io.BytesIO(export_pack(graph, text))).extractall(tmp_path)
    p = subprocess.run([sys.executable, "-I", "-c", REGISTER, str(tmp_path), str(tmp_path / "model.yaml")],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["tools"] == []  # importing the pack imports no tool
    assert out["none"].startswith("yolo_lite_blocks.register(): neither Ultralytics nor YOLOv5 can be imported")
    assert "\n" not in out["none"] and "pip install ultralytics" in out["none"]
    assert "'ultralytics', 'yolov5' or None" in out["bad"]
    assert out["registered"] == ["ultralytics.nn.tasks", "ultralytics.nn.tasks"] and out["once"]
    assert out["warned"] == ["yolo_lite_blocks was checked with ultralytics 8.4.190; this is 8.3.0"]
    assert out["params"] == count(graph).params
    assert out["stock"] == "original" and out["restored"]  # other yamls: the tool's own parse_model


def test_pack_module_runs_a_script_with_the_blocks_registered(tmp_path):
    """`python yolo_lite_blocks.py SCRIPT ARGS`: without a tool it says so (exit 1, one line); with no
    script, usage (exit 2)."""
    text = open(preset_path("yolov5-shufflenetv2")).read()
    graph = resolve(parse(text)[0], 64)
    zipfile.ZipFile(io.BytesIO(export_pack(graph, text))).extractall(tmp_path)
    (tmp_path / "train.py").write_text("import sys\nprint('ran', sys.argv[1:])\n")
    guard = "import sys; sys.modules.update(ultralytics=None, yolov5=None, models=None); import runpy; "
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-I", "-c", guard + f"sys.argv = {['yolo_lite_blocks.py', *args]!r}; "
         f"sys.path.insert(0, {str(tmp_path)!r}); runpy.run_path('yolo_lite_blocks.py', run_name='__main__')"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    p = run()
    assert p.returncode == 2 and "usage: python yolo_lite_blocks.py SCRIPT" in p.stderr
    p = run("train.py", "--cfg", "model.yaml")
    assert p.returncode == 1 and "ran" not in p.stdout
    assert p.stderr.strip().startswith("yolo_lite_blocks.register(): neither") and "\n" not in p.stderr.strip()


def test_pack_keeps_decorators_other_than_the_registry_and_reads_activations_safely():
    """The registry's `@register` stays behind; `@contextmanager` travels with `default_activation`
    (once dropped, the context manager was a plain generator). A yaml `activation:` is read, never
    evaluated."""
    pack, src = pack_of(open(preset_path("yolov8n-ghostnet")).read())
    assert "@register(" not in src and "@contextlib.contextmanager\ndef default_activation" in src
    with pack.default_activation(nn.ReLU):
        assert isinstance(pack.default_act(), nn.ReLU)
    assert isinstance(pack.default_act(), nn.SiLU)
    act = pack._activation_factory("nn.LeakyReLU(0.2, inplace=True)")()
    assert isinstance(act, nn.LeakyReLU) and act.negative_slope == 0.2 and act.inplace
    for bad in ("os.system('true')", "nn.Conv2d(3, 3, 1)", "nn.ReLU(x)", "nn.LeakyReLU(0.1, nope=1)", "(("):
        with pytest.raises(ValueError, match="use one of nn.SiLU()"):
            pack._activation_factory(bad)


def test_builder_handles_yolov9e_branches_with_a_custom_block():
    """CBLinear / CBFuse (YOLOv9-E's auxiliary branch) next to a block of ours: in a tool that lacks
    them (YOLOv5) the pack's own pair builds, CBFuse given the widths of the maps it slices; the
    parameters and the outputs equal our model's."""
    text = ("nc: 2\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, GhostConv, [32, 3, 2]]\n"
            "  - [-1, 1, CBLinear, [[8, 16]]]\n  - [1, 1, Conv, [16, 3, 2]]\n  - [[2, -1], 1, CBFuse, [[1]]]\n"
            "  - [-1, 1, Conv, [32, 3, 2]]\n  - [-1, 1, Conv, [64, 3, 2]]\n"
            "head:\n  - [[4, 5, 6], 1, Detect, [nc]]\n")
    graph = resolve(parse(text, name="v9e-ghost")[0], 64)
    pack, _ = pack_of(text, "v9e-ghost")
    tool = stand_in(pack, "yolov5")
    tool.modules.pop("CBLinear", None), tool.modules.pop("CBFuse", None)
    tool.modules["Detect"] = UltralyticsDetect  # anchor-free head, built by the stand-in tool
    d = yaml.safe_load(text)
    layers, save = pack.build_layers(d, 3, pack.Tool("ultralytics", "ultralytics", tool.modules), verbose=False)
    assert sum(p.numel() for p in layers.parameters()) == count(graph).params
    ours = build(graph).eval()
    layers.load_state_dict({k.removeprefix("model."): v for k, v in ours.state_dict().items()}, strict=False)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        mine = run_layers(layers.eval(), save, x)
        want = ours(x)
    # boxes are in pixels (up to 64 here): compare relative to their size
    assert torch.allclose(mine if torch.is_tensor(mine) else mine[0], want if torch.is_tensor(want) else want[0],
                          rtol=1e-4, atol=1e-4)
