"""Explore in a real browser shows what was measured: designs with a latency record on this machine at the
page's image size (written through engine/deploy/latency_store.py's API, as a Measure leaves them) are
ringed on the scatter, listed with their latency in the table and plotted on the latency-vs-GFLOPs scatter,
whose points load their design like the others."""
import pytest

from app import explore_tab
from engine.deploy import latency_store as store
from graph import explore as space

from .helpers import params_on_page, wait_params_change

SMALL = space.Scope(backbones=("ghostnet", "shufflenetv2"), necks=("lite-pan",), heads=("yolov5", "yolov8"),
                    scales=("n", "s"))
MEASURED = {"shufflenetv2-lite-pan-yolov5-n": ("onnx", 2, 6.4), "ghostnet-lite-pan-yolov8-n": ("onnx", 2, 21.7),
            "ghostnet-lite-pan-yolov8-s": ("torch", 1, 58.3)}


@pytest.fixture
def measured(monkeypatch, tmp_path):
    monkeypatch.setattr(explore_tab, "explore", lambda imgsz, nc: space.explore(imgsz, nc, SMALL))
    monkeypatch.setenv("YLD_CACHE", str(tmp_path))  # read at each look-up: the served app sees these records
    rows = {r["name"]: r for r in space.explore(640, 80, SMALL).rows}
    for name, (backend, threads, ms) in MEASURED.items():
        assert store.record(rows[name]["key"], 640, backend, threads, ms, ms * 1.1, name=name)
    return rows


def test_measured_designs_are_ringed_listed_and_plotted(page, shot, measured):
    before = params_on_page(page)
    page.get_by_role("tab", name="Explore").click()
    page.locator("#explore-run").click()
    page.wait_for_selector("#explore-plot svg g.pt")
    ringed = page.locator("#explore-plot g.pt.measured")
    assert sorted(ringed.evaluate_all("(gs) => gs.map((g) => g.dataset.name)")) == sorted(MEASURED)
    assert page.locator("#explore-plot circle.ring").count() == len(MEASURED)
    assert "latency measured" in page.locator("#explore-plot svg").text_content()  # the legend
    assert page.locator("#explore-table th", has_text="latency ms").count() == 1
    row = page.locator("#explore-table tr[data-i]").filter(has_text="ghostnet-lite-pan-yolov8-s")
    assert row.locator(".yld-latency").inner_text() == "58.3 (torch, 1 thr)"
    assert "p90 64.1 ms" in row.locator(".yld-latency").get_attribute("title")
    plotted = page.locator("#explore-latency-plot g.pt")
    assert sorted(plotted.evaluate_all("(gs) => gs.map((g) => g.dataset.name)")) == sorted(MEASURED)
    page.locator("#explore-latency-plot").scroll_into_view_if_needed()
    shot(page, "17-explore-latency")

    page.locator('#explore-latency-plot g.pt[data-name="shufflenetv2-lite-pan-yolov5-n"]').dispatch_event("click")
    assert wait_params_change(page, before) == measured["shufflenetv2-lite-pan-yolov5-n"]["params"]
    page.locator("#summary").wait_for(state="visible")  # the Design tab opens with it
    assert "shufflenetv2" in page.get_by_label("Backbone", exact=True).input_value()


def test_measure_the_front_fills_in_the_rings(page, shot, monkeypatch, tmp_path):
    from app import explore_measure

    one = space.Scope(backbones=("shufflenetv2",), necks=("lite-pan",), heads=("yolov5",), scales=("n", "s"),
                      recipes=False)
    monkeypatch.setattr(explore_tab, "explore", lambda imgsz, nc: space.explore(imgsz, nc, one))
    monkeypatch.setattr(explore_measure, "BUDGET_S", 0.3)
    monkeypatch.setenv("YLD_CACHE", str(tmp_path))
    page.get_by_role("tab", name="Explore").click()
    page.locator("#explore-run").click()
    page.wait_for_selector("#explore-plot svg g.pt")
    assert page.locator("#explore-plot g.pt.measured").count() == 0
    page.locator("#explore-measure-front").click()
    page.locator("#explore-measure-note", has_text="Measured the 2 of 2 designs").wait_for(timeout=120000)
    assert page.locator("#explore-plot g.pt.measured").count() == 2
    assert page.locator("#explore-latency-plot g.pt").count() == 2
    assert page.locator("#explore-table .yld-latency").count() == 2
    shot(page, "17-explore-measured-front")
