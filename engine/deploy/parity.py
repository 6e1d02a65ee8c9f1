"""Parity of two runtimes: the check every converted target (OpenVINO IR, NCNN) passes against
onnxruntime before it is written — the head's own compare (engine/heads.py) of both outputs on seeded
random images at each checked size."""
from __future__ import annotations

import numpy as np


def compare_runtimes(run_a, run_b, compare, sizes: list[tuple[int, int]], what: str = "the target",
                     error: type[Exception] = RuntimeError) -> float:
    """The worst `compare(a, b)` over `sizes` of `run_a` (the reference: onnxruntime) and `run_b` (`what`);
    `error` (naming both shapes) when the outputs differ in shape."""
    rng = np.random.default_rng(0)
    worst = 0.0
    for h, w in sizes:
        x = rng.random((1, 3, h, w), dtype=np.float32)
        a, b = run_a(x), run_b(x)
        if a.shape != b.shape:
            raise error(f"{what} gave shape {b.shape} at {h}x{w}, onnxruntime {a.shape}")
        worst = max(worst, float(compare(a, b)))
    return worst
