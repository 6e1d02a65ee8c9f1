"""graph/source.py, the one way from what the user named to a spec: every kind of source gives the spec
(and the parameters) the old paths gave, bad sources are one-line SpecErrors, overrides work on the
spec (never on the text), and the page's picker change resolves its design once and parses nothing."""
import dataclasses
import os
import re

import pytest

from app import design_tab as d
from app import handlers as h
from graph import source as source_mod
from graph.compose import compose
from graph.counts import count
from graph.dump import chosen_first, stride_comments, to_yaml
from graph.errors import SpecError
from graph.resolve import resolve
from graph.source import Source, source
from graph.spec import parse, parse_file
from graph.templates import preset_path, presets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESETS = list(presets())
PICKED = [n for n, p in presets().items() if p["picks"]]


def params(spec) -> int:
    return count(resolve(spec, 640)).params


def old_preset_text(name: str, nc: int | None) -> str:
    """What app/handlers.preset_yaml gave before graph/source.py: picks composed and written out, or the
    file with `nc:` patched by a regex."""
    p = presets()[name]
    if p["picks"]:
        k = p["picks"]
        spec = compose(k["backbone"], k["neck"], k["head"], k["scale"], nc or 80)
        return to_yaml(spec, stride_comments(resolve(spec, 640)), title=f"{spec.name}: composed by YOLO Lite "
                       f"Designer (backbone {k['backbone']}, neck {k['neck']}, head {k['head']}, scale {k['scale']})")
    text = open(preset_path(name), encoding="utf-8").read()
    return text if nc is None else re.sub(r"(?m)^nc:\s*\d+", f"nc: {nc}", text, count=1)


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_by_name_is_its_file(name):
    old, old_notes = parse_file(preset_path(name))  # launch.py's load_spec, engine/loading.py's load_any
    for src in (source(name), source(preset=name)):
        assert src.spec == old and src.spec.name == old.name == name and list(src.notes) == old_notes
        assert src.text == open(preset_path(name), encoding="utf-8").read() == src.yaml()
        assert src.picks == presets()[name]["picks"]
    assert params(source(name).spec) == params(old)


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("nc", [None, 5, 80])
def test_preset_with_nc_gives_the_old_page_text_and_spec(name, nc):
    src = source(preset=name, nc=nc)
    old_text = old_preset_text(name, nc)
    assert src.yaml() == old_text  # byte for byte what the page showed
    assert src.spec == parse(old_text)[0] and src.spec.nc == (nc or parse(old_text)[0].nc)
    assert h.preset_yaml(name, nc) == (presets()[name]["picks"], old_text)


def test_a_yaml_file_path_and_yaml_text(tmp_path):
    text = open(preset_path("yolov5-mobilenetv3-small"), encoding="utf-8").read()
    path = tmp_path / "my-model.yaml"
    path.write_text(text, encoding="utf-8")
    by_file = source(str(path))
    assert by_file.spec == parse_file(str(path))[0] and by_file.spec.name == "my-model" and by_file.picks is None
    by_text = source(text=text, name="pasted")
    assert by_text.spec == parse(text)[0] and by_text.spec.name == "pasted" and by_text.text is text
    assert params(by_file.spec) == params(by_text.spec) == 5235267


@pytest.mark.parametrize("name", PICKED)
def test_picks_compose_as_before(name):
    k = presets()[name]["picks"]
    src = source(picks=dict(k), nc=3)
    old = compose(k["backbone"], k["neck"], k["head"], k["scale"], 3)
    assert src.spec == old and src.spec.name == old.name and src.text is None and src.picks == k
    assert src.yaml() == h.compose_yaml(k["backbone"], k["neck"], k["head"], k["scale"], 3)
    assert params(src.spec) == params(old) == params(source(name, nc=3).spec)


@pytest.mark.parametrize("name,scale,nc", [("yolov8n", "s", None), ("yolov5n", "m", 7), ("yolov8n-ghostnet", None, 2),
                                           ("yolov5-mobilenetv3-large", "s", 4)])
def test_scale_and_nc_overrides_equal_with_overrides(name, scale, nc):
    old, old_notes = parse_file(preset_path(name))
    old, more = old.with_overrides(scale=scale, nc=nc)  # what `launch.py info --scale --nc` did
    if scale and old.scales:  # and the chosen scale listed first, as the written file lists it (graph/dump.py)
        old = dataclasses.replace(old, scales=chosen_first(old.scales, scale))
        assert old.scales[0][0] == scale
    src = source(name, scale=scale, nc=nc)
    assert src.spec == old and list(src.notes) == old_notes + more and params(src.spec) == params(old)
    back = parse(src.yaml())[0]  # written from the spec, and it reads back (a YOLOv5 file has no `scale:` line)
    assert src.text is None and back == (old if old.scales else dataclasses.replace(old, scale=None))


def test_picks_scale_override_and_trainer_defaults():
    src = source(picks={"backbone": "yolov8", "neck": "yolov8-pan", "head": "yolov8"}, scale="n", nc=80)
    assert src.spec == parse_file(preset_path("yolov8n"))[0] and src.picks["scale"] == "n"
    assert source(picks={"backbone": "yolov8", "neck": "yolov8-pan", "head": "yolov8", "scale": "n"},
                  scale="s").spec == parse_file(preset_path("yolov8s"))[0]


def test_the_nc_override_works_on_the_spec_not_the_text():
    text = open(preset_path("yolov5-mobilenetv3-large"), encoding="utf-8").read()
    src = source(text=text, nc=5)
    assert src.spec.nc == 5 and src.text is None and "nc: 20" in text  # the text given is left as it was
    assert parse(src.yaml())[0] == src.spec and "nc: 5" in src.yaml()
    # a key the old `^nc:` regex never saw: the override still applies
    quoted = text.replace("nc: 20", '"nc": 20', 1)
    assert source(text=quoted, nc=5).spec.nc == 5 and re.sub(r"(?m)^nc:\s*\d+", "nc: 5", quoted) == quoted
    same = source(text=text, nc=20)  # an override that changes nothing keeps the text read
    assert same.text is text and same.yaml() is text


@pytest.mark.parametrize("kwargs,words", [
    ({"preset": "yolov9000"}, "unknown preset 'yolov9000'"),
    ({"name_or_path": "no/such/file.yaml"}, "cannot read no/such/file.yaml"),
    ({"name_or_path": "yolov8n", "picks": {"backbone": "yolov8", "neck": "yolov8-pan", "head": "yolov8"}},
     "a file or preset and picks"),
    ({"text": "nc: 80\n", "preset": "yolov8n"}, "preset and text"),
    ({}, "name one model"),
    ({"picks": {"backbone": "yolov8", "neck": "nowhere", "head": "yolov8"}}, "unknown neck 'nowhere'"),
    ({"picks": {"backbone": "yolov8"}}, "picks name a backbone, a neck and a head"),
    ({"picks": {"backbone": "yolov8", "neck": "yolov8-pan", "head": "yolov8", "nc": 3}}, "not nc"),
    ({"preset": "yolov8n", "nc": 0}, "nc must be"),
    ({"preset": "yolov8n", "scale": "q"}, "scale 'q'"),
    ({"text": "nc: ["}, "yaml syntax error"),
])
def test_a_bad_source_is_one_line(kwargs, words):
    with pytest.raises(SpecError) as err:
        source(**kwargs)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_a_source_is_a_cache_key():
    a, b = source(preset="yolov8n", nc=3), source(preset="yolov8n", nc=3)
    assert a == b and hash(a) == hash(b) and a != source(preset="yolov8n") and isinstance(a, Source)
    assert source(text="# t\n" + a.yaml(), name="x") != source(text="# t\n" + a.yaml(), name="y")  # names differ
    h.evaluate.cache_clear()
    first = h.evaluate(a, 640)
    assert h.evaluate(b, 640) is first and h.evaluate.cache_info().hits == 1 and first["yaml"] == a.yaml()


def test_a_picker_change_resolves_once_and_parses_nothing(monkeypatch):
    calls = {"resolve": 0, "parse": 0}

    def counted(fn, key):
        def inner(*args, **kwargs):
            calls[key] += 1
            return fn(*args, **kwargs)
        return inner

    monkeypatch.setattr(h, "resolve", counted(h.resolve, "resolve"))
    monkeypatch.setattr(source_mod, "resolve", counted(source_mod.resolve, "resolve"))
    monkeypatch.setattr(source_mod, "parse", counted(source_mod.parse, "parse"))
    h.evaluate.cache_clear()
    text, *_, state = d.on_picks("ghostnet", "slim-neck", "yolov8", "s", 7, 640, {})
    assert calls == {"resolve": 1, "parse": 0}
    assert text == h.compose_yaml("ghostnet", "slim-neck", "yolov8", "s", 7) and state["yaml"] == text
    assert state["counts"]["params"] == params(parse(text)[0])


def test_a_file_named_for_a_scale_is_read_as_ultralytics_reads_it(tmp_path):
    """Ultralytics 8.4 builds the scale a file's name names (yolo11s.yaml: s). A file with scales and no
    `scale:` key is read so here too, with a note; a `scale:` key that disagrees with the name is kept,
    with a note; a name that names no scale changes nothing."""
    upstream = open(os.path.join(ROOT, "tests", "fixtures", "ultra", "ul-yolo11.yaml"), encoding="utf-8").read()
    (tmp_path / "yolo11s.yaml").write_text(upstream)
    (tmp_path / "yolo11.yaml").write_text(upstream)
    named = source(str(tmp_path / "yolo11s.yaml"))
    assert named.spec.scale == "s" and named.spec.scales[0][0] == "s" and params(named.spec) == 9_458_752
    assert named.notes == ("scale s from the file name yolo11s.yaml, as Ultralytics 8.4 reads it (no scale: key)",)
    assert named.text is None and parse(named.yaml())[0] == named.spec  # written out: s first, with its key
    plain = source(str(tmp_path / "yolo11.yaml"))
    assert plain.spec.scale is None and plain.notes == () and params(plain.spec) == 2_624_080
    assert source(str(tmp_path / "yolo11s.yaml"), scale="m").spec.scale == "m"  # --scale wins
    assert source(text=upstream, name="yolo11s").spec.scale is None  # text has no file name
    keyed = tmp_path / "yolov8n.yaml"
    keyed.write_text(open(preset_path("yolov8s"), encoding="utf-8").read())
    src = source(str(keyed))
    assert src.spec.scale == "s" and src.text is not None
    assert src.notes == ("the file name yolov8n.yaml names scale n: Ultralytics builds n from it, this project "
                         "the scale of its scale: key, s",)
