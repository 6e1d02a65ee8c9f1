"""The Measure panel in a real browser: the design measured at 64 px on one thread, a latency bar and a
FLOP bar per layer, the roofline table with this machine's measured row, then a pin that carries the
latency onto the latency-vs-GFLOPs plot. No timing is asserted."""


def test_measure_then_pin(page, shot):
    page.get_by_label("Image size", exact=True).fill("64")
    page.wait_for_function("() => document.querySelector('#summary').innerText.includes('@64')")
    page.get_by_text("Measure latency on this machine").click()
    page.locator("#measure-threads input").fill("1")
    page.locator("#measure").click()
    page.wait_for_selector("#latency-result", timeout=180000)
    assert page.locator("#latency-result").get_attribute("data-threads") == "1"
    assert float(page.locator("#latency-result").get_attribute("data-median-ms")) > 0
    assert page.locator("#latency-bars .yld-bar-pair").count() == 23  # yolov8n's layers, two bars each
    assert page.locator('#latency-bars [data-kind="flops"]').count() == 23
    assert page.locator('#roofline tr[data-device="this"] td').nth(4).inner_text().strip()  # measured beside it
    assert page.locator("#roofline tr").count() > 3
    # the graph gains a time-share bar on every node, beside its FLOP-share bar
    page.wait_for_function("() => document.querySelectorAll('svg.yld-graph g.node rect.time').length === 23")
    assert "share of the measured time" in page.locator("svg.yld-graph g.legend").text_content()
    shot(page, "30-measured")

    page.get_by_text("Compare designs").click()
    page.locator("#pin").click()
    page.wait_for_function("() => document.querySelectorAll('#latency-plot g.pin').length === 1")
    assert "latency ms" in page.locator("#compare").inner_text()
    shot(page, "31-pinned-with-latency")
