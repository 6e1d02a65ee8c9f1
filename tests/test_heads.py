"""The head table (engine/heads.py): every head class has a row, each row describes its head truly
(layout, decode), and the table is what loss, decode, predict, export and validation ask — a fake
head with a row of its own is served by its row everywhere, without any other code knowing it.

What adding a head touches now: its class in blocks/heads.py (a subclass of `Detect`, built by
`detect_head` from the yaml args, or by its own registered yaml name), its row in engine/heads.py (with
its loss class in engine/train/loss.py and its decode), its template in templates/heads/. Nothing else.
"""
import io
import os
import types
import zipfile

import onnx
import pytest
import torch

import blocks
from blocks.heads import Detect, DetectAnchor, DetectDFL, detect_head
from blocks.registry import HEAD
from engine.deploy import run
from engine.deploy.export import export_onnx
from engine.deploy.pack import export_pack
from engine.deploy.predictor import Predictor, decode
from engine.heads import HEADS, HeadKind, UnknownHead, decode_anchor_free, head_kind
from engine.loading import load_design
from engine.train.loss import DetectionLossDFL, make_loss
from engine.train.trainer import Trainer
from graph.model import build
from graph.resolve import resolve
from graph.spec import parse_file
from graph.templates import preset_path, presets


def all_subclasses(cls):
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *all_subclasses(sub)]
    return out


def head_classes():
    """Every concrete head class in blocks/: the subclasses of each registered head entry's class."""
    found = set()
    for info in blocks.list_blocks():
        if info.channels == HEAD:
            found |= {c for c in [info.cls, *all_subclasses(info.cls)] if c.__module__.startswith("blocks.")}
    return found - {Detect}  # the base: a head is always one of its subclasses


def test_every_head_class_has_a_row():
    classes = head_classes()
    assert {DetectAnchor, DetectDFL} <= classes
    missing = [c.__name__ for c in classes if c not in HEADS]
    assert not missing, f"head classes without a row in engine/heads.py: {missing}"
    for cls, row in HEADS.items():
        assert row.cls is cls and issubclass(cls, Detect) and row.label and row.onnx_axes.get(0) == "batch"


def test_detect_builds_by_args_without_new():
    assert "__new__" not in vars(Detect)
    assert type(detect_head(3, ch=[8, 16], strides=[8, 16])) is DetectDFL
    assert type(detect_head(3, [[10, 13], [30, 61]], ch=[8, 16], strides=[8, 16])) is DetectAnchor
    assert blocks.get_block("Detect").build is detect_head


@pytest.mark.parametrize("name", list(presets()))
def test_each_presets_head_is_what_its_row_says(name):
    torch.manual_seed(0)
    model = build(resolve(parse_file(preset_path(name))[0], 64)).eval()
    row = head_kind(model)
    head = model.model[-1]
    assert row is HEADS[type(head)] is head_kind(head) is head_kind(type(head)) is head_kind(row.name)
    with torch.no_grad():
        out = model(torch.rand(2, 3, 64, 64))
    other = model.nc + 1  # a layout that does not depend on nc (end-to-end: (B, 300, 6)) cannot tell them apart
    assert row.matches(out, model.nc) and (row.channels(other) == row.channels(model.nc) or not row.matches(out, other))
    rows = row.rows(out)
    assert rows.shape[0] == 2 and rows.shape[2] == row.channels(model.nc)
    box, score, cls = row.decode(rows[0], 0.0)
    assert box.shape == (rows.shape[1], 4) and score.shape == cls.shape == (rows.shape[1],)
    assert isinstance(make_loss(model), row.loss)


def test_unknown_heads_are_refused_as_before():
    with pytest.raises(TypeError):
        make_loss(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError):
        decode(torch.zeros(1, 8, 6), "YOLO-X")
    for what in (torch.nn.Linear(2, 2), "anchor-free", "yolov8", 3):  # no aliases, no guessing
        with pytest.raises(UnknownHead):
            head_kind(what)


# ---------------------------------------------------------------- the table is what everything asks
class FakeHead(DetectDFL):
    """A head the rest of the code has never heard of: only its row says what it is."""


class FakeLoss(DetectionLossDFL):
    pass


@pytest.fixture
def fake(monkeypatch):
    calls = []

    def fake_decode(p, conf):
        calls.append(tuple(p.shape))
        return decode_anchor_free(p, conf)

    row = HeadKind(FakeHead, "fake (test)", FakeLoss, fake_decode, channel_axis=1, extra=4,
                   onnx_axes={0: "batch", 2: "fake_boxes"})
    monkeypatch.setitem(HEADS, FakeHead, row)
    loaded = load_design(open(preset_path("yolov8n")).read(), 64, "yolov8n")
    loaded.model.model[-1].__class__ = FakeHead  # same module, same weights: another head class
    return types.SimpleNamespace(row=row, calls=calls, loaded=loaded, model=loaded.model)


def test_loss_and_decode_ask_the_table(fake):
    assert head_kind(fake.model) is fake.row
    assert type(make_loss(fake.model)) is FakeLoss
    with torch.no_grad():
        out = fake.model.eval()(torch.rand(1, 3, 64, 64))
    decode(out, fake.model, conf=0.0)
    assert fake.calls == [(84, 84)]


def test_predict_asks_the_table(fake):
    p = Predictor.from_torch(fake.model, None, 64)
    assert p.kind is fake.row
    p.predict(torch.randint(0, 255, (50, 70, 3), dtype=torch.uint8).numpy(), conf=0.0)
    assert len(fake.calls) == 1
    with pytest.raises(ValueError, match="fake \\(test\\)"):  # the row's layout is the shape check
        Predictor(lambda x: torch.zeros(1, 84, 5), "torch", fake.row, 79, imgsz=64).predict(
            torch.zeros(40, 40, 3, dtype=torch.uint8).numpy())


def test_export_and_run_ask_the_table(fake, tmp_path):
    r = export_onnx(fake.loaded, str(tmp_path / "f.onnx"), 64, dynamic=True)
    assert r.head == "fake (test)"
    dims = onnx.load(r.path).graph.output[0].type.tensor_type.shape.dim
    assert (dims[0].dim_param, dims[2].dim_param) == ("batch", "fake_boxes")  # the row's axes
    preds = run.predictors_for(fake.loaded, 64)
    assert preds["torch"].kind is preds["onnx"].kind is fake.row
    os.remove(r.path)


def test_validation_asks_the_table(fake):
    imgs, targets = torch.rand(2, 3, 64, 64), torch.tensor([[0, 1, 0.5, 0.5, 0.3, 0.3]])
    me = types.SimpleNamespace(c=types.SimpleNamespace(val_conf=0.0, val_iou=0.6))
    metrics = Trainer.validate(me, fake.model, [(imgs, targets, None, None)], "cpu", fake.model.nc)
    assert "mAP50" in metrics and fake.calls == [(84, 84), (84, 84)]


def test_export_pack_ships_the_heads_detect_builds():
    graph = resolve(parse_file(preset_path("yolov5n"))[0], 64)
    src = zipfile.ZipFile(io.BytesIO(export_pack(graph, "nc: 80\n"))).read("yolo_lite_blocks.py").decode()
    mod = types.ModuleType("pack")
    exec(compile(src, "pack.py", "exec"), mod.__dict__)
    head = mod.detect_head(80, [[10, 13, 16, 30, 33, 23]] * 3, ch=[64, 128, 256], strides=[8, 16, 32])
    ours = graph.layers[-1].info.make(*graph.layers[-1].ctor, **graph.layers[-1].ctor_kw)
    assert type(head).__name__ == "DetectAnchor" and head.state_dict().keys() == ours.state_dict().keys()
