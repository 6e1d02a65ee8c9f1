"""How the Design tab's handlers are wired so that a change reaches the page in about one bare Gradio round
trip (issue 14), and what that takes.

`LIGHT` is the event options of the design's handlers (pickers, Classes, Image size, the yaml editor, the
Edit blocks panel, the layer inspector). They run in milliseconds (counts are cached: app/handlers.py), so
they skip Gradio's queue (a plain POST answered in its response: no queue round trip, no server-sent
message) and its per-component pre- and post-processing (one thread hop per input and per output in
Gradio 6): they take the raw values (strings, numbers, None) and give what the page shows (text, HTML,
gr.update). (Gradio's Code postprocess stripped the yaml; the editor now shows its text as the file has
it, with its final newline.)

Gradio tells the page that a gr.State changed, so that its `.change` listeners run (the inspector's form,
the Classes box, the Train tab's line, the latency plot), only from a queued event. `publish(event,
state)` chains one small queued event after a light one: it marks the state's newest design (its `rev`,
counted by `next_rev`) as published, which changes the state, and the listeners run as they did.
"""
from __future__ import annotations

import gradio as gr

LIGHT = dict(show_progress="hidden", api_visibility="private", queue=False, preprocess=False, postprocess=False)


def next_rev(state: dict | None) -> int:
    """The revision of the next design the page shows (one more than the state's)."""
    return int((state or {}).get("rev") or 0) + 1


def mark_published(st):
    """The state with its newest design marked published (skipped when it already is)."""
    if not st or st.get("published") == st.get("rev"):
        return gr.skip()
    return {**st, "published": st.get("rev")}


def publish(event, state) -> None:
    """After the light `event` (a dependency), a queued event that publishes the state's design."""
    event.then(mark_published, [state], [state], show_progress="hidden", api_visibility="private",
               trigger_mode="always_last")
