"""The page driver of bench/bench_browser.py: what it does in Chromium through Playwright, and how it
times it inside the page. A WATCH script records the last pointer press and the moment the parameter
count on the page changes (a MutationObserver); `browser_picks` runs the picker changes of a plan on a
fresh page (two untimed head picks first: the first changes after a page load carry one-off costs) and
`browser_edits` the block EDITS (8 layer-inspector edits, then a recipe, a swap and two undos), each
timed from the press on its Apply / Undo button; both count the events each change sets off. The
figures, the server-side timings and the report are bench_browser.py's.
"""
from __future__ import annotations

import re
import time

# tests/browser/'s helpers: bench_browser.py puts tests/ on the path
from browser.helpers import params_on_page, wait_params_change

BACKBONES = ["yolov5", "shufflenetv2", "ghostnet", "mobilenetv3-small", "mobilenetv3-large", "repvgg"]

# block edits of the default yolov8n design, applied one after the other: (kind, *what)
EDITS = [("inspector", 1, "GSConv"), ("inspector", 3, "GhostConv"), ("inspector", 5, "RepVGGBlock"),
         ("inspector", 7, "DWConv"), ("inspector", 2, "C2fGhost"), ("inspector", 4, "C3"),
         ("inspector", 16, "GSConv"), ("inspector", 12, "VoVGSCSP"),
         ("recipe", "ghost"), ("undo",), ("swap", "neck", "Conv", "GSConv"), ("undo",)]
INSPECT_BLOCK = "Block (those that fit this place)"
EDIT_TIMEOUT_MS = 30000
WARM_UP = ("yolov5", "yolov8")  # head picks before the timed changes: designs the plan never visits, then back
SETTLE_MS = 500  # before each timed edit: the previous edit's follow-up events (the inspector's refresh) end


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


def edit_name(edit: tuple) -> str:
    kind = edit[0]
    if kind == "inspector":
        return f"layer {edit[1]} -> {edit[2]}"
    if kind == "swap":
        return f"swap {edit[2]} -> {edit[3]} in {edit[1]}"
    return f"recipe {edit[1]}" if kind == "recipe" else "undo"


def wait_text(page, selector: str, text: str, timeout: float = EDIT_TIMEOUT_MS) -> None:
    page.wait_for_function("([s, t]) => { const e = document.querySelector(s); return e && e.innerText.includes(t); }",
                           arg=[selector, text], timeout=timeout)


def wait_layer(page, prefix: str, timeout: float = EDIT_TIMEOUT_MS) -> None:
    page.wait_for_function("p => { const e = document.querySelector('#inspect-layer input');"
                           " return e && e.value.startsWith(p); }", arg=prefix, timeout=timeout)


def prepare_edit(page, edit: tuple):
    """Everything before the timed press; returns the button to press."""
    kind = edit[0]
    if kind == "inspector":
        i, module = edit[1], edit[2]
        page.locator(f'#graph svg g.node[data-index="{i}"]').click()
        wait_layer(page, f"{i} ")
        page.get_by_label(INSPECT_BLOCK, exact=True).click()
        option = re.compile(rf"(^|[^A-Za-z0-9_]){re.escape(module)} — ")  # "C3 —", not "C3Ghost —" / "xC3 —"
        page.get_by_role("option").filter(has_text=option).first.click()
        wait_text(page, "#inspect-message", f"Preview — layer {i} ")  # on_preview's line, not on_block's
        return page.locator("#inspect-apply")
    if kind == "recipe":
        return page.locator("#edit-apply-recipe")  # the recipe dropdown's default: ghost
    if kind == "swap":
        page.locator("#edit-section").get_by_text(edit[1], exact=True).click()
        return page.locator("#edit-apply-swap")  # Replace / With default to Conv / GSConv
    return page.locator("#edit-undo")


def after_edit(page, edit: tuple) -> None:
    """Wait for the edit's own follow-up to show (so it does not load the next timed edit)."""
    if edit[0] == "inspector":
        wait_layer(page, f"{edit[1]} {edit[2]}")  # the inspector's refresh for the new design
    else:
        wait_text(page, "#edit-message", "Undid" if edit[0] == "undo" else "Applied")


def count_events(page) -> list[str]:
    """The page's event calls as they happen (a queued event joins the queue; queue=False ones POST)."""
    calls = []
    page.on("request", lambda r: calls.append(r.url) if r.method == "POST" and re.search(
        r"/queue/join|/run/predict", r.url) else None)
    return calls


def browser_picks(page, url: str, plan: list[tuple[str, str]]) -> dict:
    """The picker changes of `plan` on a fresh page: in-page ms (press to new count), Playwright's ms,
    and the events each change set off (counted until the next press)."""
    page.goto(url)
    page.wait_for_selector("#summary #stat-params")
    page.evaluate(WATCH)
    for head in WARM_UP:  # untimed: the first changes after a page load carry one-off costs (the floor's too)
        before = params_on_page(page)
        page.get_by_label("Head", exact=True).click()
        page.get_by_role("option").filter(has_text=f"{head} —").first.click()
        wait_params_change(page, before)
    page.wait_for_timeout(SETTLE_MS)
    calls = count_events(page)
    browser_ms, driver_ms, marks = [], [], []
    for label, value in plan:
        before = params_on_page(page)
        if label == "Scale":
            marks.append(len(calls))
            t0 = time.perf_counter()
            page.get_by_label(value, exact=True).check()
        else:
            page.get_by_label(label, exact=True).click()
            option = page.get_by_role("option").filter(has_text=f"{value} —").first
            marks.append(len(calls))
            t0 = time.perf_counter()
            option.click()
        wait_params_change(page, before)
        driver_ms.append((time.perf_counter() - t0) * 1000)
        browser_ms.append(page.evaluate("() => window.__t1 - window.__t0"))
    page.wait_for_timeout(SETTLE_MS)
    marks.append(len(calls))
    return {"browser_ms": browser_ms, "driver_ms": driver_ms,
            "events": [b - a for a, b in zip(marks, marks[1:])]}


def browser_edits(page) -> list[dict]:
    """The EDITS in the page, each timed from the press on its Apply / Undo button to the count change."""
    out = []
    calls = count_events(page)
    page.get_by_text("Edit blocks").click()
    for edit in EDITS:
        row = {"kind": edit[0], "edit": edit_name(edit), "ok": False}
        out.append(row)
        try:
            button = prepare_edit(page, edit)
            page.wait_for_timeout(SETTLE_MS)
            row["params_before"] = before = params_on_page(page)
            page.evaluate("() => { window.__t1 = 0; }")
            mark = len(calls)
            t0 = time.perf_counter()
            button.click()
            row["params_after"] = wait_params_change(page, before, timeout=EDIT_TIMEOUT_MS)
            row["playwright_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            t = page.evaluate("() => [window.__t0, window.__t1]")
            if t[1] <= t[0]:
                raise RuntimeError("the observer saw no change after the press")
            row["browser_ms"] = round(t[1] - t[0], 1)
            row["ok"] = True
            after_edit(page, edit)
            page.wait_for_timeout(SETTLE_MS)
            row["events"] = len(calls) - mark  # the button's event and what it set off
        except Exception as err:  # a timeout or a refusal: recorded, the next edit goes on
            row["error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
    return out
