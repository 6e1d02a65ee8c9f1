"""The layer inspector and a section swap in a real browser: click a node of the graph, change its
block in the inspector (previewed, then applied), pick a layer from the table and from the keyboard,
apply a swap across the neck, undo it, pin two designs and see two named points.
Screenshots: 14-*.png."""
from .helpers import params_on_page, pick, wait_params_change

INSPECT_BLOCK = "Block (those that fit this place)"


def inspector_layer(page) -> str:
    return page.locator("#inspect-layer input").input_value()


def wait_text(page, selector: str, text: str, timeout: float = 30000) -> None:
    page.wait_for_function("([s, t]) => { const e = document.querySelector(s); return e && e.innerText.includes(t); }",
                           arg=[selector, text], timeout=timeout)


def test_inspect_swap_undo_and_compare(page, shot):
    default = params_on_page(page)

    # a click on node 1 (the stride-2 Conv) selects it: form from the schema, highlight, blocks that fit
    page.locator('#graph svg g.node[data-index="1"]').click()
    page.wait_for_function("() => document.querySelector('#inspect-layer input').value.startsWith('1 Conv')")
    assert page.locator('#graph svg g.node.selected').get_attribute("data-index") == "1"
    assert page.locator("#inspect-arg-0 input").input_value() == "128"
    assert "c2" in page.locator("#inspect-arg-0").inner_text()
    page.locator("#inspector").first.scroll_into_view_if_needed()
    shot(page, "14-inspector-selected")

    # another block: the values carry over, the preview gives the delta, nothing is applied yet
    pick(page, INSPECT_BLOCK, "GSConv")
    wait_text(page, "#inspect-message", "Preview")
    assert "GSConv" in page.locator("#inspect-message").inner_text()
    assert params_on_page(page) == default
    shot(page, "14-inspector-preview")
    page.locator("#inspect-apply").click()
    edited = wait_params_change(page, default)
    assert edited < default
    page.wait_for_selector('#graph svg g.node[data-index="1"][data-module="GSConv"]')
    wait_text(page, "#inspect-message", "Applied")
    page.wait_for_selector('#graph svg g.node.selected[data-index="1"]')  # still selected after the change
    assert "GSConv, [128, 3, 2]" in page.locator("#yaml .cm-content").inner_text()

    # a row of the layer table selects its layer (highlighted there and in the graph); Enter on a focused
    # node does too
    page.locator('#layers tr[data-index="4"]').click()
    page.wait_for_function("() => document.querySelector('#inspect-layer input').value.startsWith('4 C2f')")
    page.wait_for_selector('#layers tr.selected[data-index="4"]')
    assert page.locator('#graph svg g.node.selected').get_attribute("data-index") == "4"
    page.locator('#graph svg g.node[data-index="6"]').focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#inspect-layer input').value.startsWith('6 C2f')")

    # every Conv of the neck -> GSConv: preview, apply, undo back to the inspector's design
    page.get_by_text("Edit blocks").click()
    page.locator("#edit-section").get_by_text("neck", exact=True).click()
    page.locator("#edit-preview").click()
    wait_text(page, "#edit-message", "would change 2 layers")
    page.locator("#edit-panel").scroll_into_view_if_needed()
    shot(page, "14-swap-preview")
    page.locator("#edit-apply-swap").click()
    swapped = wait_params_change(page, edited)
    assert swapped < edited
    page.locator("#edit-undo").click()
    assert wait_params_change(page, swapped) == edited

    # pin two designs: two named points
    page.get_by_text("Compare designs").click()
    page.locator("#pin").click()
    pick(page, "Backbone", "ghostnet")
    wait_params_change(page, edited)
    page.locator("#pin").click()
    page.wait_for_function("() => document.querySelectorAll('#compare-plot g.pin circle').length === 2")
    names = page.locator("#compare-plot g.pin").evaluate_all("gs => gs.map(g => g.dataset.name)")
    assert len(set(names)) == 2
    page.locator("#compare-plot").scroll_into_view_if_needed()
    shot(page, "14-compare-two-pins")


def test_the_form_and_the_highlight_follow_a_picker_change(page, shot):
    """The pickers answer outside Gradio's queue (app/light.py); the state's listeners still run after them:
    the selected layer's form shows the new design's block there, still highlighted in graph and table."""
    page.locator('#layers tr[data-index="2"]').click()
    page.wait_for_function("() => document.querySelector('#inspect-layer input').value.startsWith('2 C2f ')")
    before = params_on_page(page)
    pick(page, "Backbone", "ghostnet")
    wait_params_change(page, before)
    page.wait_for_function("() => document.querySelector('#inspect-layer input').value.startsWith('2 C2fGhost')")
    assert page.locator("#inspect-block input").input_value().startswith("C2fGhost")
    page.wait_for_selector('#graph svg g.node.selected[data-index="2"][data-module="C2fGhost"]')
    assert page.locator("#layers tr.selected").get_attribute("data-index") == "2"
    shot(page, "14-inspector-follows-a-pick")
