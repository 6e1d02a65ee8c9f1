"""design_key: one short stable name for a design — what it builds, not what it is called — so numbers
measured for it (engine/deploy/latency_store.py) find it again wherever it shows up: the Design tab,
`launch.py info --latency`, an Explore row, a checkpoint's yaml.

The key is a hash of the design's canonical yaml: graph/dump.py's to_yaml of its ModelSpec under a fixed
title, so neither the design's name, nor the comments, spacing or key order of a file it was read from
take part. Two texts that parse to equal ModelSpecs get one key (ModelSpec's equality leaves the name
out too)."""
from __future__ import annotations

import hashlib

from .dump import to_yaml
from .spec import ModelSpec

TITLE = "design"  # in place of the design's name, which does not change what it builds


def canonical_yaml(spec: ModelSpec) -> str:
    return to_yaml(spec, title=TITLE)


def design_key(spec: ModelSpec) -> str:
    """16 hex digits of the sha256 of the canonical yaml."""
    return hashlib.sha256(canonical_yaml(spec).encode()).hexdigest()[:16]
