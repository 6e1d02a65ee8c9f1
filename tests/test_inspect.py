"""graph/inspect.py: a layer as a form, the blocks that fit its place, and replacing it."""
from __future__ import annotations

import pytest

from graph import inspect as gi
from graph.counts import count
from graph.errors import SpecError
from graph.resolve import resolve
from graph.source import source


@pytest.fixture(scope="module")
def v8n():
    return source(preset="yolov8n").spec


def test_the_form_is_the_registry_schema_with_the_values_as_written(v8n):
    f = gi.form(v8n, 1)  # [-1, 1, Conv, [128, 3, 2]]
    assert f.module == "Conv" and f.n == 1 and f.repeats
    assert [x.name for x in f.fields] == ["c2", "k", "s", "p", "g", "d", "act"]
    assert [x.text for x in f.fields[:4]] == ["128", "3", "2", ""]  # p not written: the default applies
    assert f.fields[0].required and f.fields[3].default == "None" and f.fields[1].help == "kernel size"
    c2f = gi.form(v8n, 2)
    assert c2f.module == "C2f" and c2f.n == 3 and c2f.fields[1].text == "True"


def test_another_block_carries_values_by_name_and_says_what_it_drops(v8n):
    f = gi.form(v8n, 1, "GSConv")
    assert [x.text for x in f.fields[:3]] == ["128", "3", "2"] and f.carried == ("c2", "k", "s")
    spec = gi.replace(v8n, 1, "Conv", {"c2": 128, "k": 3, "s": 2, "p": 1}).spec
    assert gi.form(spec, 1, "GSConv").dropped == ("p",)
    se = gi.form(v8n, 2, "SELayer")  # a block without c2 keeps the channels by itself
    assert [x.name for x in se.fields] == ["reduction"] and se.dropped == ("c2", "shortcut")


def test_blocks_that_fit_keep_the_output_shape_and_the_arity(v8n):
    names = [b.name for b in gi.fitting(v8n, 1, 640)]  # a 3x3 stride-2 Conv, 16 -> 32 channels (n scale)
    assert names[0] == "Conv" and {"GhostConv", "GSConv", "RepVGGBlock", "DWConv"} <= set(names)
    assert "nn.Upsample" not in names and "SELayer" not in names and "Concat" not in names
    before = resolve(v8n, 640).layers[1].shape
    for name in names[1:]:  # each really keeps the graph as it was after layer 1
        values = gi.carry(v8n, 1, name)[0]
        edited = gi.replace(v8n, 1, name, values, v8n.layers[1].n).spec
        assert resolve(edited, 640).layers[1].shape == before, name
    concat = [i for i, lay in enumerate(v8n.layers) if lay.module == "Concat"][0]
    assert [b.name for b in gi.fitting(v8n, concat, 640)] == ["Concat"]
    assert [b.name for b in gi.fitting(v8n, len(v8n.layers) - 1, 640)] == ["Detect", "v10Detect"]


def test_replace_one_layer_changes_that_layer_only(v8n):
    done = gi.replace(v8n, 1, "GSConv", {"c2": 128, "k": 3, "s": 2})
    assert done.changed == (1,) and done.notes == ("layer 1: Conv[128, 3, 2] -> GSConv[128, 3, 2]",)
    assert done.spec.layers[1].module == "GSConv" and done.spec.layers[1].args == (128, 3, 2)
    assert done.spec.layers[:1] == v8n.layers[:1] and done.spec.layers[2:] == v8n.layers[2:]
    assert count(resolve(done.spec, 640)).params < count(resolve(v8n, 640)).params
    same = gi.replace(v8n, 1, "Conv", {"c2": 128, "k": 3, "s": 2})
    assert same.spec == v8n and same.changed == ()
    more = gi.replace(v8n, 2, "C2f", {"c2": 128, "shortcut": True}, n=1)
    assert more.spec.layers[2].n == 1 and "×" not in more.notes[0]


@pytest.mark.parametrize("module, values, n, why", [
    ("GSConv", {"k": 3}, 1, "needs c2"),
    ("GSConv", {"c2": 128, "p": 1}, 1, "has no argument p"),
    ("Conv", {"c2": 128, "s": 9}, 1, "s"),
    ("Conv", {"c2": 128}, 0, "n (repeats)"),
    ("Concat", {"d": 1}, 2, "does not repeat"),
    ("Detect", {"nc": 80}, 1, "only a head replaces a head"),
])
def test_bad_replacements_name_the_layer_and_the_cause(v8n, module, values, n, why):
    with pytest.raises(SpecError) as err:
        gi.replace(v8n, 1, module, values, n)
    assert why in str(err.value) and err.value.layer == 1


def test_text_round_trip():
    for value in (3, 0.5, True, "nearest", [3, 5], "nc"):
        assert gi.parse_value(gi.text_of(value)) == value
    assert gi.parse_value(gi.text_of(None)) == "None"  # the yaml word for autopad, as YOLOv5 writes it
    assert gi.parse_value("") is None and gi.parse_value("[1, 2]") == [1, 2]
    with pytest.raises(SpecError):
        gi.parse_value("[1, 2")
