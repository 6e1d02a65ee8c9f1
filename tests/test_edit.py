"""graph/edit.py: block-level edits on the spec (insert / delete / set / swap / recipe) and `launch.py edit`."""
import os
import random
import subprocess
import sys

import pytest

from graph import edit
from graph.counts import count
from graph.errors import SpecError
from graph.resolve import resolve
from graph.source import source
from graph.templates import presets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARMLESS = "[-1, 1, h_swish, []]"  # an activation: same shape, no parameters


def spec_of(name):
    return source(preset=name).spec


@pytest.mark.parametrize("name", sorted(presets()))
def test_insert_renumbers_every_from_and_delete_undoes_it(name):
    spec = spec_of(name)
    old = resolve(spec)
    rng = random.Random(11)
    for after in sorted(rng.sample(range(-1, len(spec.layers) - 1), 4)):
        done = edit.insert(spec, after, HARMLESS)
        p = after + 1
        assert done.changed == (p,)
        new = resolve(done.spec)
        assert len(new.layers) == len(old.layers) + 1
        assert new.layers[p].module == "h_swish" and new.layers[p].sources == (after,)
        assert done.spec.layers[p].section == spec.layers[max(after, 0)].section
        shift = lambda s: s + 1 if s >= p else s  # noqa: E731
        for o in old.layers:
            n = new.layers[shift(o.index)]
            assert (n.module, n.args, n.n) == (o.module, o.args, o.n)
            want = tuple(p if (o.index == p and k == 0 and s == p - 1) else shift(s)
                         for k, s in enumerate(o.sources))
            assert n.sources == want, (name, after, o.index)
        back = edit.delete(done.spec, p)
        assert back.spec == spec, (name, after)


def test_insert_keeps_other_relative_refs_on_their_target():
    spec = spec_of("yolov8n")
    spec = edit.set_arg(spec, 0, "k", 3).spec  # any edit; then write a -2 by hand on layer 11
    import dataclasses
    lay = spec.layers[11]
    spec = dataclasses.replace(spec, layers=spec.layers[:11] + (dataclasses.replace(lay, from_=(-1, 6)),)
                               + spec.layers[12:])
    done = edit.insert(spec, 8, HARMLESS)
    assert done.spec.layers[12].from_ == (-1, 6)  # 6 < 9: unmoved
    done = edit.insert(spec, 3, HARMLESS)
    assert done.spec.layers[12].from_ == (-1, 7)
    assert done.spec.layers[-1].from_ == (16, 19, 22)


def test_insert_errors_name_the_layer():
    spec = spec_of("yolov5s")
    with pytest.raises(SpecError, match=r"layer 4: .*not a yaml row"):
        edit.insert(spec, 3, "[-1, 1, Conv, [256, 3, 2]")
    with pytest.raises(SpecError, match="unknown block 'Convv'"):
        edit.insert(spec, 3, "[-1, 1, Convv, [256]]")
    with pytest.raises(SpecError, match="points forward"):
        edit.insert(spec, 3, "[5, 1, Conv, [256]]")
    with pytest.raises(SpecError, match=r"layer 4 \(Conv\): .*\(k\)"):
        edit.insert(spec, 3, "[-1, 1, Conv, [256, x]]")


def test_delete_refused_naming_the_readers():
    spec = spec_of("yolov5s")
    with pytest.raises(SpecError) as err:
        edit.delete(spec, 6)
    assert str(err.value) == ("layer 6 (C3): cannot delete: layer 12 (Concat) reads its output; "
                              "change its `from` first")
    with pytest.raises(SpecError, match=r"^layer 17 \(C3\): cannot delete: layer 24 \(Detect\) reads"):
        edit.delete(spec, 17)  # 18 reads it too, by -1: that one alone would be rewired
    two = edit.insert(spec, 12, "[[-1, 6], 1, Concat, [1]]").spec
    with pytest.raises(SpecError, match=r"^layer 6 \(C3\): cannot delete: layers 12 \(Concat\), 13 \(Concat\) read "
                       r"its output; change their `from` first$"):
        edit.delete(two, 6)
    with pytest.raises(SpecError, match=r"layer 12 \(Concat\): cannot delete: layer 13 \(C3\) reads"):
        edit.delete(spec, 12)  # several inputs: the next layer's -1 has no one input to take
    with pytest.raises(SpecError, match="Detect layer cannot be deleted"):
        edit.delete(spec, 24)


def test_delete_rewires_the_next_layers_previous_and_renumbers():
    spec = spec_of("yolov5s")
    side = edit.insert(spec, 12, "[4, 1, Conv, [512, 1, 1]]").spec  # 13 reads 4; 14 (C3) reads it by -1
    done = edit.delete(side, 13)
    assert done.spec.layers[13].from_ == 4 and done.spec.layers[13].module == "C3"
    assert any("now reads layer 4" in n for n in done.notes)
    assert done.spec.layers[-1].from_ == (17, 20, 23) and done.spec.layers[19].from_ == (-1, 14)
    assert edit.delete(edit.insert(spec, 12, HARMLESS).spec, 13).spec == spec


def test_set_arg_by_schema_name():
    spec = spec_of("yolov5s")
    done = edit.set_arg(spec, 13, "e", 0.25)
    assert done.spec.layers[13].args == (512, False, 1, 0.25)
    assert edit.set_arg(spec, 13, "n", 1).spec.layers[13].n == 1
    assert count(resolve(done.spec)).params < count(resolve(spec)).params
    with pytest.raises(SpecError) as err:
        edit.set_arg(spec, 13, "k", 3)
    assert str(err.value) == "layer 13 (C3): C3 has no argument 'k'; its arguments are c2, shortcut, g, e, n"
    with pytest.raises(SpecError, match=r"^layer 12 \(Concat\): Concat does not repeat"):
        edit.set_arg(spec, 12, "n", 2)
    with pytest.raises(SpecError, match=r"layer 13 \(C3\): argument 2 \(shortcut\)"):
        edit.set_arg(spec, 13, "shortcut", "maybe")


def test_swap_by_section_and_where():
    spec = spec_of("yolov5s")
    assert edit.swap(spec, "Conv", "GSConv", "neck").changed == (10, 14, 18, 21)
    assert len(edit.swap(spec, "Conv", "RepVGGBlock", "backbone", {"k": 3, "s": 2}).changed) == 4
    assert edit.swap(spec, "Conv", "GSConv", "neck").changed == (10, 14, 18, 21)
    assert edit.swap(spec, "Conv", "GSConv", "neck", {"k": 1}).changed == (10, 14)
    assert edit.swap(spec, "C3", "C3Ghost", "head").changed == ()
    assert edit.swap(spec, "Detect", "Detect", "head").changed == (24,)
    with pytest.raises(SpecError) as err:  # the stem's p=2 has no slot in GhostConv: refused, not guessed
        edit.swap(spec, "Conv", "GhostConv", "backbone")
    assert str(err.value).startswith("layer 0 (Conv): Conv -> GhostConv: p=2 has no slot in GhostConv")
    with pytest.raises(SpecError, match="section must be one of"):
        edit.swap(spec, "Conv", "GSConv", "middle")


def test_swap_drops_an_arg_only_when_the_drop_is_exact():
    spec = edit.set_arg(spec_of("yolov5s"), 10, "g", 1).spec  # g written, at Conv's default
    done = edit.swap(spec, "Conv", "RepVGGBlock", "neck", {"k": 1})
    assert any("dropped g=1" in n for n in done.notes)
    assert done.spec.layers[10].args == (512, 1, 1)


def run(*args):
    return subprocess.run([sys.executable, "launch.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_cli_edit_writes_a_file_info_reads(tmp_path):
    out = tmp_path / "g.yaml"
    p = run("edit", "yolov8n", "--recipe", "ghost", "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert "after:  2,502,908 parameters, 7.08 GFLOPs" in p.stdout
    info = run("info", str(out), "--json")
    import json
    assert json.loads(info.stdout)["params"] == 2_502_908


def test_cli_edits_apply_in_command_line_order(tmp_path):
    out = tmp_path / "e.yaml"
    p = run("edit", "yolov5s", "--insert", "9:" + HARMLESS, "--section", "neck", "--where", "k=1",
            "--swap", "Conv=GSConv", "--set", "14:e=0.25", "--delete", "10", "-o", str(out))
    assert p.returncode == 0, p.stderr
    spec = source(str(out)).spec
    assert [lay.module for lay in spec.layers[9:16]] == ["SPPF", "GSConv", "nn.Upsample", "Concat", "C3",
                                                          "GSConv", "nn.Upsample"]
    assert spec.layers[13].args == (512, False, 1, 0.25)
    assert spec.layers[-1].from_ == (17, 20, 23)


@pytest.mark.parametrize("edit_args,where", [
    (("--delete", "6"), "layer 6 (C3): cannot delete: layer 12 (Concat)"),
    (("--set", "2:foo=1"), "layer 2 (C3): C3 has no argument 'foo'"),
    (("--recipe", "nope"), "unknown recipe 'nope'"),
    (("--insert", "3:[-1, 1, Conv, [256, 3, 2]"), "layer 4: the row"),
    (("--set", "0:k=3"), "layer 12 (Concat): inputs differ in spatial size"),
])
def test_cli_bad_edit_exits_2_with_one_line_and_writes_nothing(tmp_path, edit_args, where):
    out = tmp_path / "x.yaml"
    p = run("edit", "yolov5s", *edit_args, "-o", str(out))
    assert p.returncode == 2
    assert p.stderr.startswith("error: " + where) and p.stderr.count("\n") == 1, p.stderr
    assert not out.exists()
