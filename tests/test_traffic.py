"""Memory traffic (graph/traffic.py) checked by hand on a Conv and a depth-wise Conv, its totals in
`info --json`, and the roofline estimate's arithmetic (graph/roofline.py)."""
from __future__ import annotations

import json

import pytest

import launch
from graph import roofline
from graph.counts import count
from graph.resolve import resolve
from graph.spec import parse

# Width and depth 1: the channels are as written. At 64 px: layer 0 3x64x64 -> 16x32x32, layer 1
# (depth-wise, groups 16) 16x32x32 -> 16x32x32.
SMALL = """\
nc: 1
scale: n
scales:
  n: [1.0, 1.0, 1024]
backbone:
  - [-1, 1, Conv, [16, 3, 2]]     # 0-P1/2
  - [-1, 1, DWConv, [16, 3, 1]]   # 1
  - [-1, 1, Conv, [32, 3, 2]]     # 2-P2/4
  - [-1, 1, Conv, [64, 3, 2]]     # 3-P3/8
head:
  - [[1, 2, 3], 1, Detect, [nc]]
"""


@pytest.fixture(scope="module")
def rows():
    spec, _ = parse(SMALL, "small")
    return count(resolve(spec, 64)).per_layer


def test_conv_by_hand(rows):
    conv = rows[0]
    # deploy form: 16 filters of 3x3x3 = 432 weights + 16 biases (BatchNorm folded in)
    acts_in, out, weights = 3 * 64 * 64, 16 * 32 * 32, 16 * 3 * 3 * 3 + 16  # 12288, 16384, 448
    assert conv["read_bytes"] == (acts_in + weights) * 4 == 50944
    assert conv["write_bytes"] == out * 4 == 65536
    assert conv["mac_bytes"] == 116480
    assert conv["mac_bytes_int8"] == acts_in + weights + out == 29120
    flops = 2 * out * 3 * 3 * 3  # 2 x multiply-adds: every output element sums 3 channels x 3 x 3
    assert conv["fused_gflops"] * 1e9 == pytest.approx(flops)  # 884736
    assert conv["intensity"] == pytest.approx(884736 / 116480)  # 7.60 FLOP a byte


def test_depthwise_conv_by_hand(rows):
    dw = rows[1]
    # groups = 16: each filter sees one channel, 16 x 1 x 3 x 3 = 144 weights + 16 biases
    acts_in, out, weights = 16 * 32 * 32, 16 * 32 * 32, 16 * 1 * 3 * 3 + 16  # 16384, 16384, 160
    assert dw["read_bytes"] == (acts_in + weights) * 4 == 66176
    assert dw["write_bytes"] == out * 4 == 65536
    assert dw["mac_bytes"] == 131712
    flops = 2 * out * 1 * 3 * 3  # 294912: a ninth of a dense conv's per output, the same bytes
    assert dw["fused_gflops"] * 1e9 == pytest.approx(flops)
    assert dw["intensity"] == pytest.approx(294912 / 131712)  # 2.24: ShuffleNetV2's point, memory-bound
    assert dw["intensity"] < rows[0]["intensity"] / 3


def test_head_reads_its_three_maps_and_writes_its_output(rows):
    head = rows[-1]
    maps = 16 * 32 * 32 + 32 * 16 * 16 + 64 * 8 * 8  # layers 1, 2, 3
    assert head["read_bytes"] > maps * 4  # + its weights
    # its inference output: 4 box + 1 class rows for every cell of the three maps
    assert head["write_bytes"] == (4 + 1) * (32 * 32 + 16 * 16 + 8 * 8) * 4


def test_info_json_carries_the_totals(capsys):
    assert launch.main(["info", "yolov8n", "--imgsz", "320", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["mac_bytes"] == sum(r["mac_bytes"] for r in info["per_layer"]) > 0
    assert info["mac_bytes_int8"] < info["mac_bytes"] / 3  # 1 byte an element, not 4
    assert all({"mac_bytes", "intensity"} <= set(r) for r in info["per_layer"])


def test_roofline_takes_the_longer_of_compute_and_memory(rows):
    # 1 GFLOP/s and 1 GB/s: each layer costs max(FLOPs, bytes) nanoseconds
    est = roofline.estimate(rows, 1.0, 1.0)
    want = sum(max(r["fused_gflops"] * 1e9, r["mac_bytes"]) for r in rows) / 1e6
    assert est["ms"] == pytest.approx(want)
    # ridge at 5 FLOP a byte: the Conv (7.6) is compute-bound there, the depth-wise Conv (2.24) memory-bound
    ridge5 = roofline.estimate(rows, 5.0, 1.0)["memory_bound"]
    assert 1 in ridge5 and 0 not in ridge5
    table = roofline.table(rows, {"name": "here", "gflops": 1.0, "gbps": 1.0, "source": "test", "measured_ms": 2 * want})
    assert table[0]["measured_over_estimate"] == pytest.approx(2.0) and len(table) == 1 + len(roofline.DEVICES)
    assert all(dev["source"] and dev["gflops"] > 0 and dev["gbps"] > 0 for dev in roofline.DEVICES)
