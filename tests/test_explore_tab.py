"""The Explore tab's handlers without a browser (app/explore_tab.py): the scatter and the table carry every
design shown with its index, the filters recompute the front among what they keep, and a click loads the
design into the Design tab's pickers and outputs. Explored over a small part of the catalogue."""
from __future__ import annotations

import re

import pytest

from app import explore_tab
from app.design_tab import SHOWN
from graph import explore as space
from graph.counts import count
from graph.recipes import recipe
from graph.resolve import resolve
from graph.source import source

SMALL = space.Scope(backbones=("ghostnet", "yolov8"), necks=("lite-pan", "yolov8-pan"), heads=("yolov5", "yolov8"),
                    scales=("n", "s"))


@pytest.fixture
def small(monkeypatch, tmp_path):
    monkeypatch.setattr(explore_tab, "explore", lambda imgsz, nc: space.explore(imgsz, nc, SMALL))
    monkeypatch.setenv("YLD_CACHE", str(tmp_path))  # no latency measured here (engine/deploy/latency_store.py)


class Click:
    def __init__(self, index):
        self._data = {"index": index}


def test_explore_draws_every_design_with_its_index(small):
    status, svg, _, table, ex = explore_tab.on_explore(320, 4, "all", "all", "all", "all")
    assert (ex["imgsz"], ex["nc"]) == (320, 4) and len(ex["rows"]) >= 16
    points = [int(i) for i in re.findall(r'<g class="pt[^"]*" data-i="(\d+)"', svg)]
    rows = [int(i) for i in re.findall(r'<tr data-i="(\d+)"', table)]
    assert sorted(points) == sorted(rows) == list(range(len(ex["rows"])))
    front = [r for r in ex["rows"] if r["pareto"]]
    assert svg.count('class="pt front"') == len(front) >= 1
    assert f"{len(ex['rows'])} designs at 320 px, 4 classes, {len(front)} on" in status


def test_filters_keep_their_designs_and_their_own_front(small):
    ex = explore_tab.on_explore(320, 4, "all", "all", "all", "all")[-1]
    status, svg, _, table = explore_tab.view(ex, "all", "lite-pan", "yolov8", "composed")
    kept = [ex["rows"][int(i)] for i in re.findall(r'<tr data-i="(\d+)"', table)]
    assert kept and all(r["neck"] == "lite-pan" and r["head"] == "yolov8" for r in kept)
    shown_front = set(re.findall(r'<g class="pt front" data-i="(\d+)"', svg))
    index = {r["name"]: str(i) for i, r in enumerate(ex["rows"])}
    assert shown_front == {index[r["name"]] for r in space.select(kept) if r["pareto"]}
    assert len(shown_front) >= sum(r["pareto"] for r in kept)  # a subset's front holds at least the overall one's


def test_a_bad_image_size_says_so_and_keeps_the_tab(small):
    out = explore_tab.on_explore(100, 4, "all", "all", "all", "all")
    assert "cannot explore" in out[0] and "multiple of 32" in out[0]
    assert [type(o) for o in out[1:]] == [type(explore_tab.gr.skip())] * 4  # plots, table and rows stay


def test_a_click_on_a_composition_sets_the_pickers_and_loads_it(small):
    ex = explore_tab.on_explore(320, 4, "all", "all", "all", "all")[-1]
    i = next(k for k, r in enumerate(ex["rows"]) if r["name"] == "ghostnet-lite-pan-yolov8-s")
    st = {"yaml": "", "counts": None, "name": "model", "pins": [], "origin": {}, "scale_by": None}
    out = explore_tab.on_pick(ex, 4, 320, st, Click(i))
    assert len(out) == 5 + SHOWN
    assert out[:4] == ("ghostnet", "lite-pan", "yolov8", "s")
    state = out[-1]
    assert state["counts"]["params"] == ex["rows"][i]["params"] and state["nc"] == 4
    assert "backbone: ghostnet" in out[4] or "ghostnet" in out[4]


def test_a_click_on_a_recipe_row_loads_the_edited_preset(small):
    ex = explore_tab.on_explore(320, 4, "all", "all", "all", "all")[-1]
    i = next(k for k, r in enumerate(ex["rows"]) if r["name"] == "yolov8n+ghost")
    out = explore_tab.on_pick(ex, 4, 320, {"yaml": "", "pins": [], "origin": {}}, Click(i))
    assert [type(o).__name__ for o in out[:4]] == [type(explore_tab.gr.skip()).__name__] * 4  # pickers left alone
    want = count(resolve(recipe(source(preset="yolov8n", nc=4).spec, "ghost").spec, 320))
    assert out[-1]["counts"]["params"] == want.params == ex["rows"][i]["params"]
    assert "GhostConv" in out[4] and out[-1]["origin"]["label"] == "recipe ghost on preset yolov8n"


def test_a_stale_click_changes_nothing(small):
    out = explore_tab.on_pick(None, 4, 320, {}, Click(3))
    assert len(out) == 5 + SHOWN and all(type(o).__name__ == type(explore_tab.gr.skip()).__name__ for o in out)
