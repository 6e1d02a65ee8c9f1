"""The Design tab's pickers and number fields, as a person reads them.

Pickers (Preset, Backbone, Neck, Head): each option is the catalogue name and its short label, one
line in the list (`launch.py catalog` prints the whole summaries); the line under a picker's label
gives the pick's source (the paper and the article's title, written by blocks/sources.py).

Numbers (Classes, Image size): checked quietly, in a message right under the two fields, never a
toast or a server traceback (Gradio's own minimum / maximum raise both, so the fields have none). A
refused image size leaves the numbers at the last size the design was counted at (the state's
`imgsz`), and the message and the numbers panel say so."""
from __future__ import annotations

import gradio as gr

from graph.limits import MAX_IMGSZ, MAX_NC, MIN_IMGSZ

from .train_views import field_note, number_problem

SIZE_STEP = 32  # graph/resolve.py's rule: the image size is a multiple of 32
NUMBERS_MSG = "design-numbers-msg"


def choices(rows: list[dict]) -> list[tuple[str, str]]:
    """(option text, value) for a picker: 'ghostnet — GhostConv + C2fGhost stages'."""
    return [(f"{r['name']} — {r.get('label') or r['summary']}", r["name"]) for r in rows]


def about(rows: list[dict], name) -> str:
    """The line under a picker's label: where the pick comes from; '' for no pick."""
    row = next((r for r in rows if r["name"] == name), None)
    return f"Source: {row['source']}" if row else ""


def wire_about(pickers: list[tuple[gr.Dropdown, list[dict]]]) -> None:
    """Keep each picker's line current, whoever changes its value (the user, a preset, an undo)."""
    for picker, rows in pickers:
        picker.change(lambda name, rows=rows: gr.update(info=about(rows, name)), [picker], [picker],
                      show_progress="hidden", api_visibility="private", queue=False)


def size_problem(size) -> str:
    """'' for an image size the design can be counted at, else one line saying why not."""
    problem = number_problem("Image size", size, MIN_IMGSZ, MAX_IMGSZ)
    if problem or int(float(size)) % SIZE_STEP == 0:
        return problem
    size = int(float(size))
    near = max(SIZE_STEP, min(MAX_IMGSZ, -(-size // SIZE_STEP) * SIZE_STEP))  # up, as graph/resolve.py says
    return f"Image size {size} is not a multiple of {SIZE_STEP} (the stride of the coarsest map): try {near}."


def nc_problem(k) -> str:
    return number_problem("Classes", k, 1, MAX_NC)


def numbers_note(k, size, st) -> str:
    """The message under Classes and Image size: each problem and what the page keeps meanwhile."""
    st = st or {}
    problems = []
    if nc_problem(k):
        problems.append(f"{nc_problem(k)} The design keeps {st.get('nc', 80)} classes.")
    if size_problem(size):
        problems.append(f"{size_problem(size)} The numbers stay at {st.get('imgsz', 640)} px.")
    return field_note(problems, NUMBERS_MSG)
