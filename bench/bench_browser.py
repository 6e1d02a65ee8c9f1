"""Benchmark: from a picker change in the browser to the updated numbers on the page.

Serves the app locally, drives Debian's Chromium with Playwright through 20 picker changes (each to a
design not seen before, so no cache helps), and times each inside the page: from the pointer press
on the option to the moment the parameter count on the page changes (a MutationObserver), which is
what the user waits for. Playwright's own round trip (its actionability checks and polling add
~300 ms) is recorded beside it. Also times the server-side work for the same designs (compose +
resolve + count + render) so the JSON says where the time goes. Writes bench/results/browser.json.
Run: python bench/bench_browser.py
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from browser.conftest import CHROMIUM, FLAGS  # noqa: E402
from browser.helpers import params_on_page, wait_params_change  # noqa: E402
from conftest import free_port  # noqa: E402

BACKBONES = ["yolov5", "shufflenetv2", "ghostnet", "mobilenetv3-small", "mobilenetv3-large", "repvgg"]


# In the page: the time of the last pointer press, and of the last change of the parameter count.
WATCH = """() => {
  window.__t0 = 0; window.__t1 = 0;
  window.__last = document.querySelector('#stat-params').dataset.value;
  document.addEventListener('pointerdown', () => { window.__t0 = performance.now(); }, true);
  new MutationObserver(() => {
    const e = document.querySelector('#stat-params');
    if (e && e.dataset.value !== window.__last) { window.__last = e.dataset.value; window.__t1 = performance.now(); }
  }).observe(document.querySelector('#summary'), {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def steps() -> list[tuple[str, str]]:
    """20 one-picker changes from the default (yolov8 / n), every one to a new design."""
    out, current = [], "yolov8"
    for scale in ("n", "s", "m"):
        if scale != "n":
            out.append(("Scale", scale))
        order = [b for b in BACKBONES + ["yolov8"] if b != current]
        for b in order[:6]:
            out.append(("Backbone", b))
            current = b
    return out[:20]


def p95(values: list[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]


def main() -> None:
    from playwright.sync_api import sync_playwright

    from app import handlers as h
    from app.main import serve_in_background

    if "--threads" in sys.argv:
        torch.set_num_threads(int(sys.argv[sys.argv.index("--threads") + 1]))
    port = free_port()
    stop = serve_in_background("127.0.0.1", port)
    h.evaluate.cache_clear()
    plan, browser_ms, driver_ms = steps(), [], []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = b.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(60000)
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#summary #stat-params")
        page.evaluate(WATCH)
        for label, value in plan:
            before = params_on_page(page)
            if label == "Scale":
                t0 = time.perf_counter()
                page.get_by_label(value, exact=True).check()
            else:
                page.get_by_label(label, exact=True).click()
                option = page.get_by_role("option").filter(has_text=f"{value} —").first
                t0 = time.perf_counter()
                option.click()
            wait_params_change(page, before)
            driver_ms.append((time.perf_counter() - t0) * 1000)
            browser_ms.append(page.evaluate("() => window.__t1 - window.__t0"))
        b.close()
    stop()

    # the server's share: the same 20 designs evaluated directly, cold
    h.evaluate.cache_clear()
    server_ms, backbone, scale = [], "yolov8", "n"
    for label, value in plan:
        backbone, scale = (backbone, value) if label == "Scale" else (value, scale)
        t0 = time.perf_counter()
        h.evaluate(h.picks_source(backbone, "yolov8-pan", "yolov8", scale, 80), 640)  # what on_picks does
        server_ms.append((time.perf_counter() - t0) * 1000)

    result = {
        "benchmark": "picker change -> updated numbers on the page (Chromium, local server)",
        "changes": [{"picker": lbl, "value": v, "browser_ms": round(b_, 1), "server_ms": round(s, 1),
                     "playwright_ms": round(d, 1)}
                    for (lbl, v), b_, s, d in zip(plan, browser_ms, server_ms, driver_ms)],
        "browser_median_ms": round(statistics.median(browser_ms), 1), "browser_p95_ms": round(p95(browser_ms), 1),
        "server_median_ms": round(statistics.median(server_ms), 1), "server_p95_ms": round(p95(server_ms), 1),
        "playwright_median_ms": round(statistics.median(driver_ms), 1),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }
    out = os.path.join(ROOT, "bench", "results", "browser.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(result, fh, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "changes"}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
