"""The "Edit blocks" panel in a real browser: apply the ghost recipe to the default yolov8n design,
see the numbers follow, preview a swap, undo back to the exact default. Screenshots: 12-*.png."""
from .helpers import params_on_page, wait_params_change


def test_recipe_then_undo(page, shot):
    default = params_on_page(page)
    assert default == 3157200
    page.get_by_text("Edit blocks").click()
    page.locator("#edit-apply-recipe").wait_for()
    assert page.locator("#edit-undo").is_disabled()
    assert "No block edits yet" in page.locator("#edit-history").inner_text()
    page.locator("#edit-panel").scroll_into_view_if_needed()
    shot(page, "12-edit-panel-open")

    # the ghost recipe (the dropdown's first choice): the page shows the edited design
    page.locator("#edit-apply-recipe").click()
    assert wait_params_change(page, default) == 2502908
    page.wait_for_function("() => document.querySelector('#edit-history').innerText.includes('recipe ghost')")
    assert "GhostConv" in page.locator("#yaml .cm-content").inner_text()
    assert "vs previous design" in page.locator("#summary").inner_text()
    assert page.locator("#yaml-error").inner_text().strip() == ""
    assert page.locator('#graph svg .node[data-module="C2fGhost"]').count() == 4
    assert page.locator("#edit-history li").count() == 1
    assert page.locator("#edit-undo").is_enabled()

    # a preview says what a swap would do and changes nothing
    page.locator("#edit-section").get_by_text("neck", exact=True).click()
    page.locator("#edit-preview").click()
    page.wait_for_function("() => document.querySelector('#edit-message').innerText.includes('would change')")
    assert "2 layers" in page.locator("#edit-message").inner_text()
    assert params_on_page(page) == 2502908
    page.locator("#edit-panel").scroll_into_view_if_needed()
    shot(page, "12-ghost-applied-and-preview")

    # undo: back to the default design and its numbers
    page.locator("#edit-undo").click()
    assert wait_params_change(page, 2502908) == default
    page.wait_for_function("() => !document.querySelector('#edit-redo').disabled")
    assert "GhostConv" not in page.locator("#yaml .cm-content").inner_text()
    assert page.locator("#edit-history li.yld-hist-undone").count() == 1
    page.locator("#edit-panel").scroll_into_view_if_needed()
    shot(page, "12-undone")
