"""Measure's child process crashing, seen in a real browser: the panel says what happened in one line,
the page keeps the design, and the next Measure on the same server works. The crash is a stand-in
job (tests/test_isolated.py:segfault_job) put where the panel's job is named; the app runs in this
test process, so the server surviving is this process surviving."""
from app import measure_panel


def test_a_crashed_measure_is_said_and_the_server_goes_on(page, shot, monkeypatch):
    page.get_by_label("Image size", exact=True).fill("64")
    page.wait_for_function("() => document.querySelector('#summary').innerText.includes('@64')")
    params = page.locator("#stat-params").get_attribute("data-value")
    page.get_by_text("Measure latency on this machine").click()
    page.locator("#measure-threads input").fill("1")

    monkeypatch.setattr(measure_panel, "MEASURE", "tests.test_isolated:segfault_job")
    page.locator("#measure").click()
    said = page.locator("#measure-out", has_text="Measuring stopped")
    said.wait_for(timeout=120000)
    assert "the measuring process crashed (SIGSEGV) — nothing else was affected" in said.inner_text()
    assert page.locator("#stat-params").get_attribute("data-value") == params  # the design is still there
    shot(page, "32-measure-crashed")

    monkeypatch.undo()  # the real job again, on the same server
    page.locator("#measure").click()
    page.wait_for_selector("#latency-result", timeout=180000)
    assert float(page.locator("#latency-result").get_attribute("data-median-ms")) > 0
