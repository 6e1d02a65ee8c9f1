"""The Design tab's graph component: the SVG from graph/render.py in a gr.HTML whose `js_on_load`
makes it a control — click (or Enter / Space on a focused node) picks a layer, hovering or focusing a
node shows its card (the node's `data-card` lines), and − / + / fit buttons or ctrl + wheel zoom it
(the canvas scrolls to pan).

`graph_component(svg)` builds it; wire `.click(fn, ...)` where `fn` takes `evt: gr.EventData` and reads
`evt.index` (the layer picked). The zoom survives the SVG being replaced when the design changes, and so
does the highlight of the selected layer: its `selected` prop (a layer index or None), marked here in the
page (the class `selected` on its node, drawn by the SVG's own style), so a new selection sends no SVG.
Styles live in app/styles.py (`#graph .yld-graph-*`, and the readable minimum of the fit).
"""
from __future__ import annotations

import gradio as gr

# The toolbar and the card sit in the template; the SVG does not: the script draws it into the canvas
# (`draw`), so Gradio's morph of the template (a node-by-node walk of the old and new HTML on every
# update, some hundreds of SVG nodes here) has nothing to compare, and a new SVG is parsed once. Anything
# else the script appended itself would be dropped by that morph.
TEMPLATE = (
    '<div class="yld-graph-wrap">'
    '<div class="yld-graph-tools" role="toolbar" aria-label="zoom the graph">'
    '<button type="button" data-zoom="out" title="zoom out" aria-label="zoom out">−</button>'
    '<button type="button" data-zoom="in" title="zoom in (or ctrl + wheel)" aria-label="zoom in">+</button>'
    '<button type="button" data-zoom="fit" title="fit the width (text no smaller than 9 px)" '
    'aria-label="fit the width">fit</button>'
    '<span class="yld-zoom-level" aria-live="polite">fit</span></div>'
    '<div class="yld-graph-canvas"></div>'
    '<div class="yld-graph-card" role="tooltip" hidden></div>'
    '</div>'
)

# Runs once per page with `element` (this component's root), `trigger` and `watch` (Gradio 6).
# Every listener is delegated to `element`: the SVG and its nodes are replaced on each update.
JS = r"""
const MIN = 0.25, MAX = 4;
let zoom = null;  // null: fit the width (max-width 100%, min-width readable); else a scale of the SVG's own size
const $ = (sel) => element.querySelector(sel);
const svg = () => $('svg.yld-graph');
const nodeOf = (t) => {  // the graph node an event happened in, if any
  const n = t instanceof Element ? t.closest('g.node') : null;
  return n && element.contains(n) ? n : null;
};

function apply() {  // (re)apply the zoom to the current SVG
  const s = svg(), label = $('.yld-zoom-level');
  if (!s) return;
  if (zoom === null) {  // fit, but never below the readable scale app/styles.py's min-width keeps
    s.style.maxWidth = '100%';
    s.style.minWidth = s.style.width = '';
  } else {  // the user's own zoom, smaller included
    s.style.maxWidth = 'none';
    s.style.minWidth = '0';
    s.style.width = Math.round(s.viewBox.baseVal.width * zoom) + 'px';
  }
  if (label) label.textContent = zoom === null ? 'fit' : Math.round(zoom * 100) + '%';
}

function zoomBy(factor, cx, cy) {  // keep the canvas point (cx, cy) where it is
  const s = svg(), c = $('.yld-graph-canvas');
  if (!s || !c) return;
  const before = zoom ?? s.getBoundingClientRect().width / s.viewBox.baseVal.width;
  const x = (c.scrollLeft + cx) / before, y = (c.scrollTop + cy) / before;
  zoom = Math.min(MAX, Math.max(MIN, before * factor));
  apply();
  c.scrollLeft = x * zoom - cx;
  c.scrollTop = y * zoom - cy;
}

function show(n) {  // the hover card: the node's data-card lines, beside the node
  const card = $('.yld-graph-card'), wrap = $('.yld-graph-wrap');
  if (!card || !wrap) return;
  card.replaceChildren(...(n.dataset.card || '').split('\n').map((text, i) => {
    const line = document.createElement('div');
    line.textContent = text;
    if (i === 0) line.className = 'yld-card-title';
    return line;
  }));
  card.hidden = false;
  card.style.left = card.style.top = '0px';  // measure it at full width
  const r = n.getBoundingClientRect(), w = wrap.getBoundingClientRect();
  const cw = card.offsetWidth, ch = card.offsetHeight;
  let left = r.right - w.left + 8, top = r.top - w.top;
  if (left + cw > w.width) left = r.left - w.left - cw - 8;  // no room on the right: the left
  if (left < 0) {  // no room either side: under the node
    left = Math.min(Math.max(0, r.left - w.left), Math.max(0, w.width - cw));
    top = r.bottom - w.top + 6;
  }
  card.style.left = left + 'px';
  card.style.top = Math.max(0, Math.min(top, w.height - ch)) + 'px';
}

function hide() {
  const card = $('.yld-graph-card');
  if (card) card.hidden = true;
}

const pick = (n) => trigger('click', {index: parseInt(n.dataset.index, 10)});

element.addEventListener('click', (e) => {
  const b = e.target instanceof Element ? e.target.closest('[data-zoom]') : null;
  if (b && element.contains(b)) {
    const c = $('.yld-graph-canvas');
    if (b.dataset.zoom === 'fit') { zoom = null; apply(); }
    else zoomBy(b.dataset.zoom === 'in' ? 1.25 : 0.8, c.clientWidth / 2, c.clientHeight / 2);
    return;
  }
  const n = nodeOf(e.target);
  if (n) pick(n);
});
element.addEventListener('keydown', (e) => {
  const n = nodeOf(e.target);
  if (n && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); pick(n); }
  else if (e.key === 'Escape') hide();
});
element.addEventListener('mouseover', (e) => { const n = nodeOf(e.target); if (n) show(n); });
element.addEventListener('mouseout', (e) => {
  const n = nodeOf(e.target);
  if (n && !n.contains(e.relatedTarget)) hide();
});
element.addEventListener('focusin', (e) => { const n = nodeOf(e.target); if (n) show(n); });
element.addEventListener('focusout', hide);
element.addEventListener('scroll', hide, true);  // scroll does not bubble: listen while capturing
element.addEventListener('wheel', (e) => {  // ctrl + wheel zooms about the pointer
  const c = $('.yld-graph-canvas');
  if (!e.ctrlKey || !c || !c.contains(e.target)) return;
  e.preventDefault();
  const b = c.getBoundingClientRect();
  zoomBy(e.deltaY < 0 ? 1.1 : 1 / 1.1, e.clientX - b.left, e.clientY - b.top);
}, {passive: false});
function mark() {  // the selected layer (the `selected` prop) highlighted in the current SVG
  for (const g of element.querySelectorAll('g.node.selected')) g.classList.remove('selected');
  const s = props.selected;
  if (s !== null && s !== undefined) element.querySelector('g.node[data-index="' + parseInt(s, 10) + '"]')?.classList.add('selected');
}
function draw() {  // the SVG (the value) into the canvas; the focused node keeps the focus
  const c = $('.yld-graph-canvas');
  if (!c) return;
  const f = nodeOf(document.activeElement);
  c.innerHTML = props.value || '';
  if (f) element.querySelector('g.node[data-index="' + f.dataset.index + '"]')?.focus();
}
if (typeof watch === 'function') {
  watch('value', () => {  // a new SVG: draw and zoom it, keep the selection, refresh the card
    draw();
    apply();
    mark();
    const n = nodeOf(document.activeElement) || element.querySelector('g.node:hover');
    if (n) show(n); else hide();
  });
  watch('selected', mark);
}
draw();
apply();
mark();
"""


def graph_component(value: str, **kw) -> gr.HTML:
    """The graph as a gr.HTML (elem_id "graph" unless given): `.click` fires with `evt.index`;
    gr.update(selected=i) highlights layer i (None: no highlight) without sending the SVG again."""
    kw.setdefault("elem_id", "graph")
    return gr.HTML(value, html_template=TEMPLATE, js_on_load=JS, selected=None, **kw)
