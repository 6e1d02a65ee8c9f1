"""Explore (graph/explore.py, `launch.py explore`): every combination of the catalogue is tried once,
each row carries the numbers graph/counts.py gives that design, the Pareto front is the set of
non-dominated rows, and the CLI prints the same table as text, json and csv."""
from __future__ import annotations

import csv
import io
import json
import os
import random
import subprocess
import sys

import pytest

from graph.compose import SCALES, compose
from graph.counts import count
from graph.errors import SpecError
from graph.explore import Scope, combinations, explore, pareto, select
from graph.recipes import list_recipes, recipe
from graph.resolve import resolve
from graph.source import source
from graph.templates import fragments, presets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = Scope(backbones=("shufflenetv2", "yolov8"), necks=("lite-pan", "yolov8-pan"), heads=("yolov5", "yolov8"),
              scales=("n", "s"))


def test_combinations_are_the_whole_catalogue_and_every_recipe_on_every_preset():
    combos = combinations()
    composed = [c for c in combos if c["kind"] == "composed"]
    n = len(fragments("backbone")) * len(fragments("neck")) * len(fragments("head")) * len(SCALES)
    assert len(composed) == n == len({(c["backbone"], c["neck"], c["head"], c["scale"]) for c in composed})
    recipes = [c for c in combos if c["kind"] == "recipe"]
    assert len(recipes) == len(presets()) * len(list_recipes())
    assert {(c["preset"], c["recipe"]) for c in recipes} == {(p, r) for p in presets() for r, _ in list_recipes()}


def test_rows_and_left_out_add_up_to_the_combinations():
    done = explore(320, 5, SMALL)
    assert done.tried == len(combinations(SMALL)) == 16 + len(list_recipes()) * sum(
        1 for p in presets().values() if SMALL.wants(p.get("picks") or {"backbone": None}))
    assert len(done.rows) + sum(done.skipped.values()) == done.tried
    assert sum(r["kind"] == "composed" for r in done.rows) == 16  # these sixteen all compose
    assert all(why for why in done.skipped)


def test_each_row_has_the_numbers_of_its_design():
    done = explore(320, 5, SMALL)
    for r in random.Random(0).sample(done.rows, 6):
        if r["kind"] == "composed":
            spec = compose(r["backbone"], r["neck"], r["head"], r["scale"], nc=5)
        else:
            spec = recipe(source(preset=r["preset"], nc=5).spec, r["recipe"]).spec
        c = count(resolve(spec, 320))
        assert (r["params"], r["layers"], r["dialect"]) == (c.params, c.layers, spec.dialect)
        assert r["gflops"] == round(c.gflops, 4) and r["gflops_ultralytics"] == round(c.gflops_ultralytics, 4)
        assert spec.nc == 5


def test_recipe_rows_name_the_preset_and_the_recipe():
    done = explore(640, 80, Scope(composed=False))
    names = {r["name"] for r in done.rows}
    assert "yolov8n+ghost" in names and "yolov5s+shufflenet" in names
    ghost = next(r for r in done.rows if r["name"] == "yolov8n+ghost")
    assert (ghost["preset"], ghost["recipe"], ghost["backbone"], ghost["scale"]) == ("yolov8n", "ghost", "yolov8", "n")
    # a recipe that does not fit is left out with the reason, counted once per refusal
    assert any("changes nothing" in why or "fits a YOLOv5 model" in why for why in done.skipped)


def dominated(p, q) -> bool:
    """Is p dominated by q?"""
    return q[0] <= p[0] and q[1] <= p[1] and (q[0] < p[0] or q[1] < p[1])


POINTS = [(1, 9), (2, 5), (2, 7), (3, 5), (4, 2), (5, 2), (6, 1), (6, 1), (7, 8), (1, 9)]


def test_pareto_on_a_hand_made_set():
    rows = [{"params": p, "gflops": g} for p, g in POINTS]
    assert pareto(rows) == [True, True, False, False, True, False, True, True, False, True]
    # the definition itself, on random sets with ties
    rng = random.Random(1)
    for _ in range(50):
        pts = [(rng.randint(1, 8), rng.randint(1, 8)) for _ in range(rng.randint(1, 25))]
        flags = pareto([{"params": p, "gflops": g} for p, g in pts])
        assert flags == [not any(dominated(p, q) for q in pts) for p in pts]


def test_the_front_within_a_filter():
    done = explore(320, 5, SMALL)
    lite = select(done.rows, neck="lite-pan")
    assert lite and all(r["neck"] == "lite-pan" for r in lite)
    pts = [(r["gflops"], -r["params"]) for r in lite]  # the front shown: most parameters for the GFLOPs
    assert [r["pareto"] for r in lite] == [not any(dominated(p, q) for q in pts) for p in pts]
    assert sum(r["pareto"] for r in lite) >= sum(r["pareto"] for r in done.rows if r["neck"] == "lite-pan")


def test_bad_size_classes_or_family_are_refused():
    with pytest.raises(SpecError, match="multiple of 32"):
        explore(100, 80, SMALL)
    with pytest.raises(SpecError, match="nc must be"):
        explore(640, 0, SMALL)
    with pytest.raises(SpecError, match="unknown backbone 'nope'"):
        explore(640, 80, Scope.of(backbone="nope"))


def run(*args):
    return subprocess.run([sys.executable, "launch.py", "explore", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_cli_json_csv_and_text():
    p = run("--backbone", "ghostnet", "--neck", "lite-pan", "--imgsz", "320", "--nc", "3", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert set(out) == {"imgsz", "nc", "tried", "skipped", "seconds", "rows"}
    assert (out["imgsz"], out["nc"]) == (320, 3)
    composed = [r for r in out["rows"] if r["kind"] == "composed"]
    assert len(composed) == len(fragments("head")) * len(SCALES)
    keys = {"name", "kind", "backbone", "neck", "head", "scale", "params", "gflops", "layers", "pareto"}
    assert keys <= set(composed[0])
    p = run("--backbone", "ghostnet", "--neck", "lite-pan", "--imgsz", "320", "--nc", "3", "--csv")
    table = list(csv.DictReader(io.StringIO(p.stdout)))
    assert [(r["name"], int(r["params"])) for r in table] == [(r["name"], r["params"]) for r in out["rows"]]
    assert {r["pareto"] for r in table} <= {"True", "False"}
    p = run("--backbone", "ghostnet", "--neck", "lite-pan", "--imgsz", "320", "--nc", "3", "--pareto")
    starred = [line for line in p.stdout.splitlines() if line.startswith("* ")]
    assert len(starred) == sum(r["pareto"] for r in out["rows"]) >= 1


def test_cli_bad_input_is_one_line_and_exit_2():
    p = run("--imgsz", "100")
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "multiple of 32" in p.stderr
    p = run("--head", "nope")
    assert p.returncode == 2 and "unknown head 'nope'" in p.stderr
