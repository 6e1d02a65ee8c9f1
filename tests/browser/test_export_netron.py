"""Export the current design from the page and see its graph in Netron's viewer inside the page."""
import os
import urllib.error
import urllib.request

from engine.deploy import viewer


def test_export_then_netron_shows_the_graph(page, shot, app_url):
    page.get_by_role("tab", name="Export").click()
    page.get_by_label("Export image size").fill("128")
    page.locator("#export-onnx").click()
    page.wait_for_selector("#export-check", timeout=120000)
    assert "passed" in page.locator("#export-check").inner_text()
    assert "onnxruntime matches PyTorch" in page.locator("#export-status").inner_text()
    frame_el = page.wait_for_selector("#netron-frame")
    src = frame_el.get_attribute("src")
    frame = frame_el.content_frame()
    # Netron asks once about cookies when it cannot reach the internet: accept, as a user would
    try:
        frame.get_by_text("Accept").click(timeout=8000)
    except Exception:
        pass
    frame.locator("svg#canvas g.node").first.wait_for(timeout=60000)  # the ONNX graph is drawn
    assert frame.locator("svg#canvas g.node").count() > 50
    frame.locator("body:not(.spinner)").wait_for(timeout=60000)  # laid out and shown
    page.locator("#netron-frame").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    shot(page, "07-netron")

    # the viewer reaches the live export only: not other tokens, not the package's Python, not ../
    base = app_url.rstrip("/")
    for bad in ("/netron/models/nope/model.onnx", "/netron/server.py", "/netron/..%2Fserver.py",
                "/netron/index.html?token=nope", "/netron/index.html"):
        try:
            urllib.request.urlopen(base + bad)
            raise AssertionError(f"{bad} was served")
        except urllib.error.HTTPError as err:
            assert err.code == 404

    # re-exporting replaces the view and removes the old folder
    token = src.rsplit("token=", 1)[-1]
    from app.server import STORE

    old = os.path.join(STORE.root, token)
    assert os.path.isdir(old)
    page.locator("#export-onnx").click()
    page.wait_for_function(f"() => !document.querySelector('#netron-frame').src.endsWith('{token}')", timeout=120000)
    assert not os.path.exists(old)
    assert STORE.live() >= 1 and viewer.status()[0]
