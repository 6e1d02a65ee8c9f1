"""The Explore tab shows a long count as it goes (app/explore_tab.explore_stream over
graph/explore.progress): the designs counted so far with their front and a progress line, then the
whole result, the same as on_explore's."""
import threading

import pytest

from app import explore_tab
from graph import explore as space

SMALL = space.Scope(backbones=("shufflenetv2",), necks=("lite-pan",), heads=("yolov5", "yolov8"), scales=("n", "s"),
                    recipes=False)


@pytest.fixture
def held(monkeypatch):
    """The count of SMALL (4 designs) at 96 px, held after its second design until the test lets it go."""
    space._explored.cache_clear()
    go, counted = threading.Event(), []
    real_row = space.row

    def row(combo, imgsz, nc):
        if len(counted) == 2:
            assert go.wait(60)
        counted.append(combo)
        return real_row(combo, imgsz, nc)

    monkeypatch.setattr(space, "row", row)
    monkeypatch.setattr(explore_tab, "explore", lambda imgsz, nc: space.explore(imgsz, nc, SMALL))
    monkeypatch.setattr(explore_tab, "STEP_S", 0.05)
    monkeypatch.setattr(explore_tab, "progress", lambda imgsz, nc: space.progress(imgsz, nc, SMALL))
    yield go
    go.set()
    space._explored.cache_clear()


def test_a_long_count_shows_the_designs_so_far_then_the_whole(held):
    stream = explore_tab.explore_stream(96, 3, "all", "all", "all", "all")
    for _ in range(2400):  # a step every 0.05 s until the two designs before the held one are counted
        status, plot, _, table, ex = next(stream)
        if 'data-done="2"' in status:
            break
    assert 'id="explore-progress"' in status and 'data-done="2"' in status and 'data-total="4"' in status
    assert len(ex["rows"]) == 2 and ex["imgsz"] == 96
    assert table.count("<tr data-i=") == 2 and plot.count("data-i=") >= 2  # the two counted, clickable
    assert space.progress(96, 3, SMALL)[1:] == (2, 4)
    held.set()
    *_, last = stream
    assert space.progress(96, 3, SMALL) is None  # done: nothing counting
    whole = explore_tab.on_explore(96, 3, "all", "all", "all", "all")
    assert "explore-progress" not in last[0] and "4 designs at 96 px" in last[0] and "4 designs at 96 px" in whole[0]
    assert last[-1]["rows"] == whole[-1]["rows"] and len(whole[-1]["rows"]) == 4


def test_a_known_count_comes_at_once_and_a_bad_size_says_why(monkeypatch):
    monkeypatch.setattr(explore_tab, "explore", lambda imgsz, nc: space.explore(imgsz, nc, SMALL))
    first = list(explore_tab.explore_stream(96, 3, "all", "all", "all", "all"))
    again = list(explore_tab.explore_stream(96, 3, "all", "all", "all", "all"))
    assert len(again) == 1 and again[0][-1]["rows"] == first[-1][-1]["rows"]
    bad = list(explore_tab.explore_stream(100, 3, "all", "all", "all", "all"))
    assert len(bad) == 1 and "cannot explore" in bad[0][0] and "multiple of 32" in bad[0][0]
