"""Dead parameters (issue 12): weights a model builds that no forward pass reads. They are counted as
upstream counts them and reported apart; the deploy form and the export drop them. Found by running the
model (graph/dead.py), never by a list of blocks: hand-made modules below hold the finder to that."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from app.views import summary_html
from graph import dead
from graph.compose import compose
from graph.counts import count
from graph.model import build, count_params
from graph.report import info_text
from graph.resolve import resolve
from graph.spec import parse_file
from graph.templates import preset_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------- the finder, on hand-made modules

class Toy(nn.Module):
    """A conv that runs; a Linear never called (dead, droppable); a parameter of a module that runs but
    never read (dead, not droppable: its module runs); a Linear whose weight a parent reads itself
    (F.linear, the module never called: read, so alive); a conv only training runs (alive)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.unused = nn.Linear(4, 5)
        self.scale = nn.Parameter(torch.ones(7))  # never read
        self.proj = nn.Linear(4, 4)  # read through F.linear only
        self.aux = nn.Conv2d(4, 2, 1)  # training only

    def forward(self, x):
        y = self.bn(self.conv(x))
        y = F.linear(y.mean((2, 3)), self.proj.weight, self.proj.bias)
        if self.training:
            return y, self.aux(x.new_zeros(1, 4, 2, 2))
        return y


def test_finder_reads_what_runs_and_nothing_else():
    m = Toy().to("meta")
    found = dead.unused(m, torch.empty(1, 3, 8, 8, device="meta"))
    assert found.params == {"unused.weight": 20, "unused.bias": 5, "scale": 7}
    assert found.total == 32 and found.modules == ["unused"]  # `scale`'s module runs: not dropped
    assert m.training  # the mode it had is restored


def test_finder_needs_no_training_pass_when_eval_read_everything():
    class Plain(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            assert not self.training, "a training pass ran though eval had read every parameter"
            return self.conv(x)

    assert dead.unused(Plain().to("meta").eval(), torch.empty(1, 3, 8, 8, device="meta")).params == {}


def test_meta_twin_and_drop_leave_a_real_model_running_the_same():
    torch.manual_seed(0)
    m = Toy().eval()
    x = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        want = m(x)
    found = dead.unused(dead.meta_twin(m), x.to("meta"))
    assert not next(m.parameters()).is_meta  # the twin is a copy: the model keeps its weights
    assert dead.drop(m, found.modules) == 25 and not hasattr(m, "unused")
    with torch.no_grad():
        assert torch.equal(m(x), want)


# ---------------------------------------------------------------- the slim-neck's VoVGSCSP

# The slim-neck repository's YOLOv5 model at scale n: our yolov5 backbone + slim-neck neck + yolov5 head
# is its slimneck2yolov5.yaml row for row. Measured with YOLOv5 7.0.14 running the slim-neck's VoVGSCSP
# structure (its 3x3 `res` Conv(c_, c_, 3, 1, act=False) built, never called; scratch instrument
# v5slimneck.py): 306 layers, 1,900,669 parameters (the figure), 230,976 of them in the four
# `res` convs (9 c_^2 + 2 c_ for c_ = 64, 32, 64, 128), 4.24448 GFLOPs; the preset at scale s:
# 306 layers, 7,323,133 parameters, 922,752 in `res`, 15.2784896 GFLOPs.
SLIMNECK = {"n": (1_900_669, 230_976, 306, 4.24448), "s": (7_323_133, 922_752, 306, 15.2784896)}


@pytest.mark.parametrize("scale", ["n", "s"])
def test_slimneck_counts_as_yolov5_prints_and_reports_the_res_convs_dead(scale):
    params, dead_params, layers, gflops = SLIMNECK[scale]
    graph = resolve(compose("yolov5", "slim-neck", "yolov5", scale), 640)
    c = count(graph)
    assert (c.params, c.layers, c.dead_params) == (params, layers, dead_params)
    assert c.gflops_stride == pytest.approx(gflops, abs=1e-6)  # `res` never runs: no FLOPs
    vov = [r["index"] for r in c.per_layer if r["module"] == "VoVGSCSP"]
    assert vov == [13, 17, 20, 23] and c.dead == ["VoVGSCSP.res in layers 13, 17, 20, 23"]
    c_ = [graph.layers[i].c_out // 2 for i in vov]  # VoVGSCSP's hidden channels (e = 0.5)
    assert [r["dead_params"] for r in c.per_layer if r["dead_params"]] == [9 * k * k + 2 * k for k in c_]
    # the deploy form drops them: fused params are the rest, BatchNorms folded
    assert c.fused_params == count_params(build(resolve(compose("yolov5", "slim-neck", "yolov5", scale), 64))
                                          .eval().fuse())
    assert c.fused_params < params - dead_params
    real = build(resolve(compose("yolov5", "slim-neck", "yolov5", scale), 64))
    assert real.dead_weights().total == dead_params and count_params(real) == params  # what the trainer's DDP must know


def test_preset_slimneck_fuses_without_res_and_exports_without_it(tmp_path):
    from engine.deploy.export import export_onnx
    from engine.loading import load_design

    text = open(preset_path("yolov5s-slimneck")).read()
    loaded = load_design(text, 64, "yolov5s-slimneck")
    model = loaded.model.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        want = model(x)
    fused = build(resolve(parse_file(preset_path("yolov5s-slimneck"))[0], 64)).eval()
    fused.load_state_dict(model.state_dict())
    fused.fuse()
    assert not any(hasattr(m, "res") for m in fused.modules())
    with torch.no_grad():
        assert torch.allclose(fused(x), want, atol=1e-4)
    c = count(resolve(parse_file(preset_path("yolov5s-slimneck"))[0], 640))
    r = export_onnx(loaded, str(tmp_path / "slim.onnx"), 64)
    assert r.params == c.fused_params == count_params(fused) and r.max_abs_diff <= 1e-3
    assert any(hasattr(m, "res") for m in loaded.model.modules())  # the export fused a copy


@pytest.mark.parametrize("preset", ["yolov5n", "yolov8n", "yolov5-shufflenetv2", "yolov8n-ghostnet",
                                    "yolov5-mobilenetv3-small", "yolov5s-repvgg"])
def test_models_without_dead_weights_report_none(preset):
    c = count(resolve(parse_file(preset_path(preset))[0], 320))
    assert (c.dead_params, c.dead) == (0, []) and not any(r["dead_params"] for r in c.per_layer)


@pytest.mark.parametrize("fixture", ["ul-yolo26.yaml", "ul-yolov10n.yaml", "ul-yolov9t.yaml"])
def test_training_only_and_eval_only_branches_are_not_dead(fixture):
    """An end-to-end head's one-to-many branches: training reads them, and eval runs them before fuse;
    RepConv's 1x1 branch until fuse. None of them is dead."""
    spec, _ = parse_file(os.path.join(ROOT, "tests", "fixtures", "ultra", fixture))
    assert count(resolve(spec, 320)).dead_params == 0


# ---------------------------------------------------------------- said out loud: CLI and page

def test_info_and_page_say_it_when_there_are_dead_params():
    graph = resolve(parse_file(preset_path("yolov5s-slimneck"))[0], 640)
    c = count(graph)
    text = info_text(graph, c, [])
    assert ("922,752 parameters are never used by the forward pass (VoVGSCSP.res in layers 13, 17, 20, 23"
            in text) and "the deploy form and the export drop them" in text
    p = subprocess.run([sys.executable, "launch.py", "info", "yolov5s-slimneck", "--json"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    info = json.loads(p.stdout)
    assert (info["params"], info["dead_params"], info["fused_params"]) == (7_323_133, 922_752, c.fused_params)
    assert info["dead"] == ["VoVGSCSP.res in layers 13, 17, 20, 23"]
    result = {"name": "m", "nc": 80, "dialect": "yolov5", "strides": [8, 16, 32], "counts": c.as_dict()}
    page = summary_html(result)
    assert page.count('id="stat-dead"') == 1 and "⚠ 922,752 parameters are never used" in page
    clean = count(resolve(parse_file(preset_path("yolov5s"))[0], 640))
    assert "stat-dead" not in summary_html({**result, "counts": clean.as_dict()})
    assert "never used" not in info_text(graph, clean, [])
