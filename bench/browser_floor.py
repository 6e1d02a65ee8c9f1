"""Gradio's own floor for bench/bench_browser.py: a bare page (a gr.Blocks with one dropdown whose change
handler returns one HTML line) served the way the app is (app/server.create_server: the request guard,
the same queue, CSS and theme, uvicorn on a thread), timed the way the designer is timed: from the
pointer press on an option to the change of that line in the page (a MutationObserver). Whatever the
designer costs above this is ours; this much every Gradio round trip costs on the machine.

`serve_floor(port, queue=True)` starts it (returns a stop function); `time_floor(page, url, changes)`
runs the changes in a fresh Playwright page (after one untimed change: the first after a page load
carries one-off costs, on any page) and returns the in-page milliseconds of each. With queue=False
the handler is wired with Gradio's `queue=False` (a plain HTTP POST, no queue round trip), recorded
beside the default for reference.
"""
from __future__ import annotations


CHOICES = [f"option {k}" for k in range(24)]

# The last pointer press, and the moment the line shows a new value.
WATCH = """() => {
  window.__t0 = 0; window.__t1 = 0;
  window.__last = document.querySelector('#floor-line').dataset.value;
  document.addEventListener('pointerdown', () => { window.__t0 = performance.now(); }, true);
  new MutationObserver(() => {
    const e = document.querySelector('#floor-line');
    if (e && e.dataset.value !== window.__last) { window.__last = e.dataset.value; window.__t1 = performance.now(); }
  }).observe(document.querySelector('#floor-out'), {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def line(value: str) -> str:
    return f'<div id="floor-line" data-value="{value}">picked {value}</div>'


def build_floor(queue: bool = True):
    import gradio as gr

    with gr.Blocks(title="floor", analytics_enabled=False) as demo:
        pick = gr.Dropdown(CHOICES, value=CHOICES[0], label="Floor")
        out = gr.HTML(line(CHOICES[0]), elem_id="floor-out")
        pick.change(line, [pick], [out], show_progress="hidden", api_visibility="private", queue=queue)
    return demo


def serve_floor(port: int, queue: bool = True):
    """The bare page on 127.0.0.1:port, behind the app's own server wrapper; returns stop()."""
    import gradio as gr

    from app.main import run_in_thread
    from app.server import create_server
    from app.views import CSS

    app = create_server(build_floor(queue).queue(default_concurrency_limit=4), css=CSS, theme=gr.themes.Soft())
    return run_in_thread(app, "127.0.0.1", port, 60, "the floor page")


def time_floor(page, url: str, changes: int, start: int = 1) -> list[float]:
    """`changes` picks on the bare page, each to another option; in-page ms from press to new line."""
    page.goto(url)
    page.wait_for_selector("#floor-line")
    page.evaluate(WATCH)
    out = []
    for k in range(-1, changes):  # the first change after the page loads is not timed (as on our page)
        value = CHOICES[(start + k) % len(CHOICES)]
        page.get_by_label("Floor", exact=True).click()
        page.get_by_role("option", name=value, exact=True).click()
        page.wait_for_function("v => document.querySelector('#floor-line')?.dataset.value === v", arg=value)
        if k >= 0:
            out.append(round(page.evaluate("() => window.__t1 - window.__t0"), 1))
    return out
