"""Every yaml the project reads goes through graph/safeyaml.py: alias bombs, deep nesting, too many
nodes, oversize and non-text input are refused in milliseconds with one line naming the file — in a
model yaml (graph.spec.parse, the app's evaluate and /info endpoint), a data.yaml (load_data_config,
extract_dataset_zip) and the template library. And the app's evaluate cache never keeps a refused text."""
from __future__ import annotations

import io
import time
import zipfile

import pytest
import yaml

from app import handlers as h
from engine.data.config import DataError, load_data_config
from engine.data.zipdata import extract_dataset_zip
from graph import limits, templates
from graph.errors import SpecError
from graph.spec import parse
from graph.templates import preset_path

FAST = 2.0  # seconds; a refusal takes milliseconds (the old code took 9-15 s or raised RecursionError)


def bomb(levels: int = 9) -> str:
    """A 'billion laughs' yaml value: 9 ** levels strings from a few hundred bytes."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def data_yaml(names: str) -> str:
    return f"train: images/train\nval: images/train\nnames: {names}\n"


def deep(kind: str, n: int) -> str:
    """A model yaml whose backbone is nested `n` deep, in flow / block list or flow / block mapping form."""
    if kind == "flow-list":
        value = "[" * n + "1" + "]" * n
    elif kind == "block-list":
        value = "\n  " + "- " * n + "x"
    elif kind == "flow-map":
        value = "{a: " * n + "1" + "}" * n
    else:  # block mapping, indented two spaces a level
        value = "".join("\n" + "  " * (i + 1) + "a:" for i in range(n)) + " 1"
    return f"nc: 80\nhead: []\nbackbone: {value}\n"


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def dataset(tmp_path, yaml_text: str):
    for sub in ("images/train", "labels/train"):
        (tmp_path / sub).mkdir(parents=True, exist_ok=True)
    (tmp_path / "images/train/a.jpg").write_bytes(b"\xff\xd8 not decoded here")
    (tmp_path / "labels/train/a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "data.yaml").write_text(yaml_text)
    return tmp_path / "data.yaml"


def zipped(tmp_path, data: str | bytes, name: str = "data.yaml"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("set/images/train/a.jpg", b"\xff\xd8")
        z.writestr("set/labels/train/a.txt", "0 0.5 0.5 0.2 0.2\n")
        z.writestr(f"set/{name}", data)
    path = tmp_path / "up.zip"
    path.write_bytes(buf.getvalue())
    return str(path)


# ---------------------------------------------------------------- the loader itself
def test_loader_refuses_the_427_byte_bomb_at_the_first_anchor():
    from graph import safeyaml

    text = bomb(9) + "names: *i\n"
    assert len(text) < 500
    t0 = time.perf_counter()
    with pytest.raises(safeyaml.YamlRefused, match="data.yaml: yaml anchors and aliases") as info:
        safeyaml.load(text, "data.yaml")
    assert time.perf_counter() - t0 < FAST
    assert "\n" not in str(info.value) and info.value.what == "data.yaml"


def test_loader_rules_and_messages(tmp_path):
    from graph import safeyaml

    refused = [
        (["not", "text"], "expected yaml text, got list"),
        (b"nc: 1\n", "expected yaml text, got bytes"),
        ("names: [a]\nx: '\ud800'\n", "unpaired surrogate"),
        ("x: &only_an_anchor 1\n", "anchors and aliases"),
        ("[" + ",".join(["1"] * (limits.MAX_YAML_NODES + 1)) + "]", "too large"),
        ("[" * (limits.MAX_YAML_DEPTH + 1) + "]" * (limits.MAX_YAML_DEPTH + 1), "nested deeper than"),
        ("#" * (limits.MAX_TEXT_BYTES + 1), "larger than 256 KB"),
    ]
    for text, words in refused:
        with pytest.raises(safeyaml.YamlRefused, match=words) as info:
            safeyaml.load(text, "model yaml")
        assert "\n" not in str(info.value) and str(info.value).startswith("model yaml: ")
    value = []
    for _ in range(limits.MAX_YAML_DEPTH - 1):
        value = [value]
    assert safeyaml.load("[" * limits.MAX_YAML_DEPTH + "]" * limits.MAX_YAML_DEPTH) == value
    for text in ("a: [1, 2\n", "x: !!python/object/apply:os.system ['true']\n"):  # syntax is PyYAML's own
        with pytest.raises(yaml.YAMLError):
            safeyaml.load(text)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"names: [caf\xe9]\n")
    with pytest.raises(safeyaml.YamlRefused, match="not UTF-8"):
        safeyaml.load_file(str(latin1), "latin1.yaml")
    big = tmp_path / "big.yaml"
    big.write_text("#" * 2000 + "\n")
    with pytest.raises(safeyaml.YamlRefused, match="big.yaml: larger than 1 KB"):
        safeyaml.load_file(str(big), "big.yaml", max_bytes=1024)


def test_normal_files_still_load(tmp_path):
    from graph import safeyaml

    with open(preset_path("yolov5n"), encoding="utf-8") as fh:
        text = fh.read()
    assert safeyaml.load(text, "yolov5n.yaml") == yaml.safe_load(text)
    assert parse(text)[0].nc == 80
    cfg = load_data_config(str(dataset(tmp_path, data_yaml("{0: cat, 1: dog}"))))
    assert cfg["names"] == ["cat", "dog"] and len(cfg["train"]) == 1
    assert templates.presets.__wrapped__() and templates.fragments.__wrapped__("backbone")


# ---------------------------------------------------------------- alias bombs in dataset files
def test_alias_bomb_in_data_yaml_is_refused(tmp_path):
    path = dataset(tmp_path, bomb(5) + data_yaml("*e"))  # 9**5 names; the 427-byte 9**9 one took 73 s
    with pytest.raises(DataError, match="data.yaml: yaml anchors and aliases") as info:
        load_data_config(str(path))
    assert "\n" not in str(info.value)


def test_alias_bomb_in_zip_data_yaml_is_refused(tmp_path):
    up = zipped(tmp_path, bomb(5) + "names: *e\n")
    with pytest.raises(DataError, match="data.yaml: yaml anchors and aliases"):
        extract_dataset_zip(up, str(tmp_path / "job"))
    up = zipped(tmp_path, bomb(5) + "names: *e\n", "dataset.yaml")
    with pytest.raises(DataError, match="dataset.yaml: yaml anchors and aliases"):
        extract_dataset_zip(up, str(tmp_path / "job2"))


def test_zip_data_yaml_is_bounded_and_checked(tmp_path):
    up = zipped(tmp_path, "names: [a]\n" + "#" * (limits.MAX_DATA_YAML_BYTES + 10) + "\n")
    with pytest.raises(DataError, match="data.yaml: larger than 1 MB"):
        extract_dataset_zip(up, str(tmp_path / "job"))
    up = zipped(tmp_path, "names: " + "[" * 500 + "]" * 500 + "\n")
    with pytest.raises(DataError, match="data.yaml: nested deeper than"):
        extract_dataset_zip(up, str(tmp_path / "job2"))
    up = zipped(tmp_path, "names: [a\n")
    with pytest.raises(DataError, match="data.yaml: not valid yaml"):
        extract_dataset_zip(up, str(tmp_path / "job3"))
    up = zipped(tmp_path, "names: [cat, dog]\n")
    assert load_data_config(extract_dataset_zip(up, str(tmp_path / "job4")))["names"] == ["cat", "dog"]


def test_data_yaml_node_and_depth_bounds(tmp_path):
    many = "[" + ", ".join(f"c{i}" for i in range(limits.MAX_YAML_NODES + 5)) + "]"
    with pytest.raises(DataError, match="data.yaml: too large"):
        load_data_config(str(dataset(tmp_path, data_yaml(many))))
    with pytest.raises(DataError, match="data.yaml: nested deeper than"):
        load_data_config(str(dataset(tmp_path, data_yaml("[" * 5000 + "]" * 5000))))


def test_alias_bomb_in_a_template_is_refused(tmp_path, monkeypatch):
    from graph import safeyaml

    (tmp_path / "backbones").mkdir()
    (tmp_path / "models").mkdir()
    (tmp_path / "backbones" / "evil.yaml").write_text(bomb(5) + "kind: backbone\nname: evil\nlayers: *e\n")
    (tmp_path / "models" / "presets.yaml").write_text(bomb(5) + "presets: [*e]\n")
    monkeypatch.setattr(templates, "ROOT", str(tmp_path))
    for load in (lambda: templates.fragments.__wrapped__("backbone"), templates.presets.__wrapped__):
        with pytest.raises(safeyaml.YamlRefused, match="anchors and aliases"):
            load()


def test_model_yaml_anchor_or_alias_is_refused():
    for text in (bomb(9) + "nc: 80\nbackbone: *i\nhead: []\n",
                 "nc: &n 80\nbackbone: [[-1, 1, Conv, [16, 3, 2]]]\nhead: []\n"):  # an anchor alone, too
        with pytest.raises(SpecError, match="anchors and aliases"):
            parse(text)


# ---------------------------------------------------------------- deep nesting in a model yaml
KINDS = ["flow-list", "block-list", "flow-map"]


@pytest.mark.parametrize("n", [500, 5000])
@pytest.mark.parametrize("kind", KINDS)
def test_deep_model_yaml_is_refused_fast(kind, n):
    text = deep(kind, n)
    assert len(text.encode()) < limits.MAX_TEXT_BYTES
    t0 = time.perf_counter()
    with pytest.raises(SpecError, match=f"nested deeper than {limits.MAX_YAML_DEPTH} levels") as info:
        parse(text)
    assert time.perf_counter() - t0 < FAST
    assert "\n" not in str(info.value)


def test_deep_block_mapping_and_pasted_deep_yaml_are_refused():
    with pytest.raises(SpecError, match="nested deeper than"):
        parse(deep("block-map", 100))
    pasted = "nc: 80  # \u201cquoted\u201d\nhead: []\nbackbone:\n" + "[" * 5000 + "]" * 5000 + "\n"
    t0 = time.perf_counter()  # typographic quotes and a column-0 list: the repair path
    with pytest.raises(SpecError, match="nested deeper than"):
        parse(pasted)
    assert time.perf_counter() - t0 < FAST


@pytest.mark.parametrize("n", [500, 5000])
@pytest.mark.parametrize("kind", KINDS)
def test_evaluate_and_info_answer_deep_yaml_with_an_error(kind, n):
    from app.api import api_info

    text = deep(kind, n)
    for call in (lambda: h.evaluate(text, 640, "deep"), lambda: api_info(text, 640)):
        result, took = timed(call)
        assert result["ok"] is False and "nested deeper than" in result["error"], result
        assert "\n" not in result["error"] and took < FAST


# ---------------------------------------------------------------- the evaluate cache
def test_oversize_text_is_refused_before_the_cache():
    huge = "nc: 80\n" + "#" * (25 * 2**20) + "\n"
    before = h.evaluate.cache_info().currsize
    for i in range(3):
        result = h.evaluate(huge + " " * i, 640, "big")
        assert result["ok"] is False and "KB" in result["error"] and result["layer"] is None
        assert set(result) >= {"ok", "error", "layer", "module", "field", "why"}
    assert h.evaluate.cache_info().currsize == before


def test_non_text_is_refused_and_good_text_is_still_cached():
    for bad in (["nc: 80"], {"nc": 80}, None, 42):
        result = h.evaluate(bad, 640, "x")
        assert result["ok"] is False and "must be text" in result["error"]
    _, text = h.preset_yaml("yolov8n")
    h.evaluate.cache_clear()
    first = h.evaluate(text, 640, "v8")
    assert first["ok"] and h.evaluate.cache_info().currsize == 1
    assert h.evaluate(text, 640, "v8") is first and h.evaluate.cache_info().hits == 1
