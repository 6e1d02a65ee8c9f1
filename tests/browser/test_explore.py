"""The Explore tab in a real browser: Explore draws the designs, a click on a point (or a row) opens the
Design tab with that design loaded, its pickers set. The tab explores a small part of the catalogue here
(the whole takes a minute the first time); its handlers are the same."""
import pytest

from app import explore_tab
from graph import explore as space
from graph.compose import compose
from graph.counts import count
from graph.recipes import recipe
from graph.resolve import resolve
from graph.source import source

from .helpers import params_on_page, wait_params_change

SMALL = space.Scope(backbones=("ghostnet", "shufflenetv2"), necks=("lite-pan",), heads=("yolov5", "yolov8"),
                    scales=("n", "s"))


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setattr(explore_tab, "explore", lambda imgsz, nc: space.explore(imgsz, nc, SMALL))


def open_explore(page):
    page.get_by_role("tab", name="Explore").click()
    page.locator("#explore-run").click()
    page.wait_for_selector("#explore-plot svg g.pt")


def test_click_a_point_loads_it_into_the_designer(page, shot, small):
    before = params_on_page(page)
    open_explore(page)
    assert page.locator("#explore-plot g.pt").count() == page.locator("#explore-table tr[data-i]").count() >= 8
    assert page.locator("#explore-plot g.pt.front").count() >= 1
    shot(page, "explore-01-plotted")

    page.locator('#explore-plot g.pt[data-name="ghostnet-lite-pan-yolov8-s"]').dispatch_event("click")
    now = wait_params_change(page, before)
    assert now == count(resolve(compose("ghostnet", "lite-pan", "yolov8", "s"), 640)).params
    page.locator("#summary").wait_for(state="visible")  # the Design tab opens
    assert "ghostnet" in page.get_by_label("Backbone", exact=True).input_value()
    assert "lite-pan" in page.get_by_label("Neck", exact=True).input_value()
    shot(page, "explore-02-loaded")


def test_filter_then_click_a_recipe_row(page, shot, small):
    before = params_on_page(page)
    open_explore(page)
    kind = page.get_by_label("Only kind", exact=True)
    kind.click()
    page.get_by_role("option", name="recipe", exact=True).click()
    page.wait_for_function("() => [...document.querySelectorAll('#explore-plot g.pt')]"
                           ".every((g) => g.dataset.name.includes('+'))")
    row = page.locator('#explore-table tr[data-i]').filter(has_text="yolov5-shufflenetv2+gsconv-neck")
    row.click()
    want = count(resolve(recipe(source(preset="yolov5-shufflenetv2").spec, "gsconv-neck").spec, 640)).params
    assert wait_params_change(page, before) == want
    page.locator("#summary").wait_for(state="visible")
    assert "GSConv" in page.locator("#yaml .cm-content").inner_text()
    shot(page, "explore-03-recipe-loaded")
