"""A block registered from outside the catalogue flows through the whole product: a toy block is
written to a temporary .py file, imported with importlib (its `@register` runs), and then a model
using it parses, resolves, counts, builds, runs, learns and goes into the export pack. The registry
is put back as it was afterwards, so no other test sees the toy.
"""
from __future__ import annotations

import importlib
import importlib.util
import io
import sys
import types
import uuid
import zipfile

import pytest
import torch

import blocks
from blocks import registry
from engine.deploy.pack import export_pack
from graph.counts import count
from graph.dump import to_yaml
from graph.model import build
from graph.resolve import resolve
from graph.spec import parse
from test_blocks import IMGSZ, NC, assert_every_parameter_learns, detector_yaml, image

TOY = "ToyScaleConv"
TOY_MODULE = "toy_blocks_"  # + a fresh suffix per import
TOY_SOURCE = '''"""A toy block for tests/test_toy_block.py: a 3x3 conv times a learned per-channel gain, then ReLU."""
import torch
import torch.nn as nn

from blocks.registry import EXAMPLE_DOWN, OUT, Arg, c2_arg, register


@register("ToyScaleConv", summary="toy: a 3x3 conv times a learned per-channel gain, then ReLU",
          source="the toy of tests/test_toy_block.py", channels=OUT,
          args=(c2_arg(), Arg("gain", "float", 1.0, "initial gain", low=0.0, high=10.0)),
          example=((-1, 1, "ToyScaleConv", (32, 0.5)), EXAMPLE_DOWN))
class ToyScaleConv(nn.Module):
    def __init__(self, c1, c2, gain=1.0):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, 3, 1, 1, bias=False)
        self.gain = nn.Parameter(torch.full((1, c2, 1, 1), float(gain)))
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.conv(x) * self.gain)
'''


@pytest.fixture
def clean_registry():
    """Snapshot the registry (both tables); afterwards put them back and forget the toy modules."""
    saved = dict(registry.REGISTRY), dict(registry._BY_CLASS)
    yield
    registry.REGISTRY.clear()
    registry.REGISTRY.update(saved[0])
    registry._BY_CLASS.clear()
    registry._BY_CLASS.update(saved[1])
    for name in [m for m in sys.modules if m.rsplit(".", 1)[-1].startswith(TOY_MODULE)]:
        del sys.modules[name]
        if name.startswith("blocks."):
            delattr(blocks, name.split(".", 1)[1])
    assert TOY not in blocks.REGISTRY and all(TOY != b.name for b in blocks.list_blocks())


def import_toy(tmp_path) -> types.ModuleType:
    """The toy module from a file outside the project, imported under a fresh name."""
    name = f"{TOY_MODULE}{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.py"
    path.write_text(TOY_SOURCE)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def toy_design():
    text = detector_yaml(blocks.get_block(TOY).example)
    spec, notes = parse(text, name="toy")
    assert notes == []
    return spec, resolve(spec, IMGSZ)


def test_toy_block_flows_from_yaml_to_export_pack(tmp_path, clean_registry):
    assert TOY not in blocks.REGISTRY
    module = import_toy(tmp_path)
    info = blocks.get_block(TOY)
    assert info.cls is module.ToyScaleConv and info.family == module.__name__
    assert TOY in [b.name for b in blocks.list_blocks()]

    # parse -> resolve: the registry's channel rule (OUT: c2 = args[0]) and default stride
    spec, graph = toy_design()
    node = next(n for n in graph.layers if n.module == TOY)
    assert node.info is info and node.shape == (32, 16, 16) and node.args["gain"] == 0.5

    # count: the toy's row, by hand (3x3 conv 32 -> 32 on 16x16, bias free; the gain multiply is free
    # under thop's rules) and as the built layer holds it
    c = count(graph)
    row = c.per_layer[node.index]
    assert row["module"] == TOY and row["params"] == 32 * 32 * 9 + 32
    assert row["gflops"] == pytest.approx(2 * 32 * 16 * 16 * 32 * 9 / 1e9, rel=1e-12)

    # build -> forward: shapes as promised, the gain as given, gradients everywhere
    torch.manual_seed(0)
    model = build(graph)
    layer = model.model[node.index]
    assert type(layer) is module.ToyScaleConv and torch.all(layer.gain == 0.5)
    assert c.params == sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in layer.parameters()) == row["params"]
    with torch.no_grad():
        y = model.eval()(image())
    cells = sum(graph.layers[s].shape[1] * graph.layers[s].shape[2] for s in graph.head.sources)
    assert tuple(y.shape) == (1, 3 * cells, 5 + NC) and torch.isfinite(y).all()
    assert_every_parameter_learns(model, image(1))

    # the export pack: the model yaml and the README name the toy (custom: no upstream)
    z = zipfile.ZipFile(io.BytesIO(export_pack(graph, to_yaml(spec))))
    assert parse(z.read("model.yaml").decode())[0] == spec
    assert f", {TOY}, " in z.read("model.yaml").decode()
    readme = z.read("README.md").decode()
    assert f"`{TOY}` (the toy of tests/test_toy_block.py)" in readme
    assert "`Conv`" not in readme


def test_pack_module_holds_a_block_registered_outside_the_package(tmp_path, clean_registry):
    import_toy(tmp_path)
    spec, graph = toy_design()
    z = zipfile.ZipFile(io.BytesIO(export_pack(graph, to_yaml(spec))))
    assert f"class {TOY}(nn.Module):" in z.read("yolo_lite_blocks.py").decode()


def test_pack_module_holds_a_toy_placed_in_the_blocks_package(tmp_path, clean_registry, monkeypatch):
    """The same toy as a module of the `blocks` package (a folder on its __path__): the pack's module
    carries its source, without the registry decorator, and the shipped class computes the same."""
    name = f"{TOY_MODULE}{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(TOY_SOURCE)
    monkeypatch.setattr(blocks, "__path__", [*blocks.__path__, str(tmp_path)])
    module = importlib.import_module(f"blocks.{name}")
    assert blocks.get_block(TOY).cls is module.ToyScaleConv
    spec, graph = toy_design()
    z = zipfile.ZipFile(io.BytesIO(export_pack(graph, to_yaml(spec))))
    src = z.read("yolo_lite_blocks.py").decode()
    assert f"class {TOY}(nn.Module):" in src and "@register(" not in src and "from blocks" not in src
    shipped = types.ModuleType("yolo_lite_blocks")
    exec(compile(src, "yolo_lite_blocks.py", "exec"), shipped.__dict__)
    torch.manual_seed(0)
    ours, theirs = module.ToyScaleConv(8, 16, 0.5), shipped.ToyScaleConv(8, 16, 0.5)
    theirs.load_state_dict(ours.state_dict())
    x = torch.rand(1, 8, 10, 10)
    assert torch.equal(ours(x), theirs(x))
