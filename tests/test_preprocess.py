"""One preprocessing for training's validation and for inference: the tensor YoloDataset gives for a
validation image (augment=False, cached or not) is bit-for-bit the tensor the Predictor hands its
model for the same file and size, over several aspect ratios (wide, tall, upscaled, downscaled, and
squares that need no padding), and both use the one letterbox in engine/images.py."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import engine.data.dataset as dataset_mod
import engine.deploy.predictor as predictor_mod
from engine import images
from engine.data.dataset import YoloDataset
from engine.deploy.predictor import Predictor
from engine.images import read_image

S = 128
SIZES = [(200, 100), (90, 250), (37, 101), (1000, 300), (S, S), (300, 300), (S, S // 2)]  # (w, h)


def noise_png(path, w, h, seed=0):
    """Random pixels: any difference in resizing or padding shows."""
    a = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(a).save(path)
    return str(path)


def predictor_input(img: np.ndarray, imgsz: int) -> tuple[torch.Tensor, dict]:
    """The (1, 3, S, S) tensor a Predictor feeds its model for `img` (captured by a stand-in model)."""
    seen = []

    def run(x):
        seen.append(x.clone())
        return torch.zeros(1, 5, 1)  # one anchor-free candidate, score 0: nothing detected

    out = Predictor(run, "torch", "DetectDFL", nc=1, imgsz=imgsz).predict(img)
    assert out["detections"] == [] and len(seen) == 1
    return seen[0], out


def test_one_letterbox_for_both_paths():
    assert dataset_mod.letterbox is images.letterbox
    assert predictor_mod.letterbox is images.letterbox
    assert dataset_mod.resize_long is images.resize_long


@pytest.mark.parametrize("cache", [False, True])
@pytest.mark.parametrize("wh", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_validation_tensor_equals_predictor_tensor(tmp_path, wh, cache):
    w, h = wh
    p = noise_png(tmp_path / f"im_{w}x{h}.png", w, h, seed=w * 7 + h)
    x_val, _, _, meta = YoloDataset([p], ["a"], imgsz=S, augment=False, cache=cache)[0]
    x_pred, _ = predictor_input(read_image(p), S)
    assert x_val.shape == (3, S, S) and x_val.dtype == torch.float32
    assert x_pred.shape == (1, 3, S, S) and x_pred.dtype == torch.float32
    assert torch.equal(x_val, x_pred[0])
    # the geometry both sides use to map boxes back agrees too
    _, ratio, pad = images.letterbox(read_image(p), S)
    assert meta["ratio"] == ratio and meta["pad"] == pad and meta["orig_shape"] == (h, w)


def test_no_padding_when_the_image_is_already_square():
    for side in (S, 300):
        img = np.random.default_rng(side).integers(0, 256, (side, side, 3), dtype=np.uint8)
        out, ratio, pad = images.letterbox(img, S)
        assert pad == (0, 0) and ratio == S / side
        if side == S:
            assert np.array_equal(out, img)  # no resize, no padding: the pixels as they are
        assert not (out == images.PAD_VALUE).all(axis=-1).all(axis=0).any()  # no all-grey column
