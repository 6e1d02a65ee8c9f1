"""Where the catalogue's designs come from, named as a reader knows them: the five articles the
lightweight blocks came from (by title) and the papers behind them (as people cite them). `cite` writes
the one-line source that blocks (their registration), templates and presets (their `source:`) show in
the catalogue, the designer's pickers and the export pack's README; `source_text` reads a template's
`source:` field, plain text or `{article, paper, part, note}`."""
from __future__ import annotations

# The articles, by the title a reader found them under (the originals are Chinese blog posts).
ARTICLES = {
    "shufflenetv2": "YOLOv5s-ShuffleNetV2",           # "YOLOv5s-ShuffleNetV2"
    "ghostnet": "YOLOv8 + GhostNet",                   # YOLOv8 with a GhostNet backbone (C2fGhost)
    "gsconv": "YOLOv5 + GSConv",                       # "YOLOv5改进 | 将Conv替换为轻量化的GSConv"
    "mobilenetv3": "YOLOv5 + MobileNetV3",             # "YOLOv5算法改进 — YOLOv5结合MobileNetV3"
    "repvgg": "RepVGG re-parameterised YOLO",          # "追求极致:Repvgg重参化对YOLO工业落地的实验和思考"
}

PAPERS = {
    "shufflenetv2": "ShuffleNet V2 (Ma et al., ECCV 2018)",
    "ghostnet": "GhostNet (Han et al., CVPR 2020)",
    "slim-neck": "Slim-neck by GSConv (Li et al., 2022)",
    "mobilenetv3": "MobileNetV3 (Howard et al., ICCV 2019)",
    "senet": "Squeeze-and-Excitation (Hu et al., CVPR 2018)",
    "repvgg": "RepVGG (Ding et al., CVPR 2021)",
}

FIELDS = ("article", "paper", "part", "note")


def cite(article: str, paper: str | None = None, part: str = "", note: str = "") -> str:
    """'MobileNetV3 (Howard et al., ICCV 2019), from the YOLOv5 + MobileNetV3 article': the paper, then
    the article it came here through. Without a paper: 'the lite neck of the ... article' (`part`).
    `note` follows after a semicolon. Unknown keys raise KeyError naming the known ones."""
    if article not in ARTICLES:
        raise KeyError(f"unknown article {article!r}; known: {', '.join(ARTICLES)}")
    if paper is not None and paper not in PAPERS:
        raise KeyError(f"unknown paper {paper!r}; known: {', '.join(PAPERS)}")
    title = f"the {ARTICLES[article]} article"
    if paper:
        text = f"{PAPERS[paper]}, from {title}"
    else:
        text = f"{part} of {title}" if part else title
    return f"{text}; {note}" if note else text


def source_text(value) -> str:
    """A template's `source:` as text: plain text as it is, a mapping through `cite`."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or not set(value) <= set(FIELDS) or "article" not in value:
        raise ValueError(f"source must be text or a mapping with article (and {', '.join(FIELDS[1:])}), "
                         f"got {value!r}")
    return cite(**{k: str(v) for k, v in value.items()})
