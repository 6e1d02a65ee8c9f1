"""The catalogue as plain data: blocks, backbones, necks, heads and presets, each
{name, summary, source} (blocks also carry their args schema and rules; templates and presets a
short `label` too). What `launch.py catalog` prints and what the designer's pickers list. Sources read
as a user knows them (the paper, the article's title: blocks/sources.py)."""
from __future__ import annotations

import blocks

from .templates import fragments, presets


def catalog() -> dict[str, list[dict]]:
    def entry(d: dict) -> dict:
        return {"name": d["name"], "label": d.get("label") or d["summary"], "summary": d["summary"],
                "source": d["source"]}

    return {
        "blocks": [
            {"name": b.name, "summary": b.summary, "source": b.source, "family": b.family,
             "args": b.schema(), "channels": b.channels, "repeat": b.repeat,
             **({"aliases": list(b.aliases)} if b.aliases else {})}
            for b in blocks.list_blocks()
        ],
        "backbones": [entry(d) for d in fragments("backbone").values()],
        "necks": [entry(d) for d in fragments("neck").values()],
        "heads": [entry(d) for d in fragments("head").values()],
        "presets": [{**entry(p), "picks": p.get("picks")} for p in presets().values()],
    }


def catalog_text() -> str:
    cat = catalog()
    out = []
    for section, rows in cat.items():
        out.append(f"{section}:")
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            out.append(f"  {r['name']:<{width}}  {r['summary']}  [{r['source']}]")
        out.append("")
    return "\n".join(out)
