"""The Design tab's layer table as light HTML (app/layer_table.py): one row per layer, carrying the layer's
index for the click that selects it, numbers right-aligned, text escaped, and extra columns keyed by
layer index (a later "latency %")."""
import re
from html import unescape

from app import handlers as h
from app.layer_table import table_html


def cells(html: str) -> list[list[str]]:
    rows = re.findall(r"<tr data-index=\"\d+\"[^>]*>(.*?)</tr>", html)
    return [[unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)] for r in rows]


def test_every_layer_is_a_row_with_its_index_and_its_numbers():
    result = h.evaluate(h.source(preset="yolov8n"), 640)
    html = table_html(result["table"])
    assert [int(i) for i in re.findall(r'<tr data-index="(\d+)"', html)] == list(range(len(result["table"])))
    assert re.findall(r'<th scope="col"[^>]*>([^<]*)</th>', html) == h.TABLE_HEADERS
    got = cells(html)
    assert len(got) == len(result["table"]) == 23 and got[1][:5] == ["1", "-1", "1", "4,672", "Conv"]
    assert sum(int(r[3].replace(",", "")) for r in got) == result["counts"]["params"]  # the params column adds up
    assert got[22][1] == "[15, 18, 21]" and got[22][4] == "Detect"


def test_extra_columns_sit_on_the_right_keyed_by_layer_index():
    rows = h.evaluate(h.source(preset="yolov8n"), 640)["table"]
    html = table_html(rows, {"latency %": {0: 12.5, 2: 3.25}, "note": {1: "<b>"}})
    assert re.findall(r'<th scope="col"[^>]*>([^<]*)</th>', html)[-2:] == ["latency %", "note"]
    got = cells(html)
    assert [r[-2:] for r in got[:3]] == [["12.5", ""], ["", "<b>"], ["3.25", ""]]
    assert "<b>" not in html and all(len(r) == len(h.TABLE_HEADERS) + 2 for r in got)  # text is escaped
