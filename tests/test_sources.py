"""Where the catalogue's designs come from, as a reader knows them (issue 15): blocks/sources.py's `cite`
writes every article's source as the paper and the article's title; templates and presets name theirs
as data; the catalogue (JSON and text), the pickers' options and the export pack's README show it, and
no internal label ("seed 003") reaches any of them."""
import io
import re
import subprocess
import sys
import zipfile

import pytest

import blocks
from blocks.sources import ARTICLES, PAPERS, cite, source_text
from graph.catalog import catalog, catalog_text
from graph.templates import fragments, presets

INTERNAL = re.compile(r"\bseed\s*\d|\[seed", re.IGNORECASE)
SEED_FAMILIES = {"ghost", "gsconv", "mobilenet", "repvgg", "shufflenet"}  # the five articles' blocks


def test_cite_names_the_paper_then_the_article():
    assert cite("mobilenetv3", "mobilenetv3") == \
        "MobileNetV3 (Howard et al., ICCV 2019), from the YOLOv5 + MobileNetV3 article"
    assert cite("shufflenetv2", part="the lite neck") == "the lite neck of the YOLOv5s-ShuffleNetV2 article"
    assert cite("ghostnet") == "the YOLOv8 + GhostNet article"
    assert cite("ghostnet", "ghostnet", note="neck and head: Ultralytics YOLO26 (8.4)") == \
        "GhostNet (Han et al., CVPR 2020), from the YOLOv8 + GhostNet article; neck and head: Ultralytics YOLO26 (8.4)"
    with pytest.raises(KeyError, match="unknown article 'seed 003'.*mobilenetv3"):
        cite("seed 003")
    with pytest.raises(KeyError, match="unknown paper 'resnet'.*repvgg"):
        cite("repvgg", "resnet")


def test_source_text_reads_text_or_a_mapping():
    assert source_text("YOLOv5 v7.0") == "YOLOv5 v7.0"
    assert source_text({"article": "repvgg", "paper": "repvgg"}) == \
        "RepVGG (Ding et al., CVPR 2021), from the RepVGG re-parameterised YOLO article"
    for bad in ({"paper": "repvgg"}, {"article": "repvgg", "year": 2021}, ["repvgg"], 3):
        with pytest.raises(ValueError, match="source must be text or a mapping"):
            source_text(bad)


def test_every_article_and_paper_is_cited_by_the_catalogue():
    sources = [r["source"] for rows in catalog().values() for r in rows]
    for title in ARTICLES.values():
        assert any(f"the {title} article" in s for s in sources), title
    for paper in PAPERS.values():
        assert any(s.startswith(paper) for s in sources), paper


def test_no_internal_label_reaches_the_catalogue():
    cat = catalog()
    for kind, rows in cat.items():
        for r in rows:
            for key in ("source", "summary", "label"):
                assert not INTERNAL.search(r.get(key, "")), (kind, r["name"], r.get(key))
    # the articles' own blocks say which article and which paper (not "seed 001 / ...")
    for info in blocks.list_blocks():
        if info.family in SEED_FAMILIES and info.name != "C3Ghost":  # C3Ghost is YOLOv5's own
            assert any(f"the {title} article" in info.source for title in ARTICLES.values()), info.source
    text = catalog_text()
    assert not INTERNAL.search(text)
    ghost = next(line for line in text.splitlines() if line.strip().startswith("ghostnet "))
    assert ghost.endswith("[GhostNet (Han et al., CVPR 2020), from the YOLOv8 + GhostNet article]")


def test_templates_and_presets_carry_a_short_label():
    rows = [*(d for kind in ("backbone", "neck", "head") for d in fragments(kind).values()), *presets().values()]
    for r in rows:
        assert r.get("label") and len(r["label"]) <= 32, (r["name"], r.get("label"))
        assert "seed" not in r["label"].lower()
    for kind in ("backbones", "necks", "heads", "presets"):
        assert all(r["label"] == (fragments(kind[:-1]) if kind != "presets" else presets())[r["name"]]["label"]
                   for r in catalog()[kind])


def test_catalog_cli_prints_the_sources():
    out = subprocess.run([sys.executable, "launch.py", "catalog"], capture_output=True, text=True, check=True,
                         timeout=300).stdout
    assert "[MobileNetV3 (Howard et al., ICCV 2019), from the YOLOv5 + MobileNetV3 article]" in out
    assert "lite-pan" in out and "[the lite neck of the YOLOv5s-ShuffleNetV2 article]" in out
    assert not INTERNAL.search(out)


def test_the_export_pack_readme_names_sources_as_readers_know_them():
    from engine.deploy.pack import export_pack
    from graph.resolve import resolve
    from graph.source import source

    src = source(preset="yolov8n-ghostnet")
    graph = resolve(src.spec, 64)
    with zipfile.ZipFile(io.BytesIO(export_pack(graph, src.yaml(graph)))) as z:
        readme = z.read("README.md").decode()
    assert "`C2fGhost`" in readme and blocks.get_block("C2fGhost").source == "the YOLOv8 + GhostNet article"
    assert "the YOLOv8 + GhostNet article" in readme  # the block the pack supplies, with its source
    assert not INTERNAL.search(readme)
