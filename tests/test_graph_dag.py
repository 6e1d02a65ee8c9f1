"""The layer DAG that resolve builds (networkx), used for real: which layers feed no Detect input."""
import json
import subprocess
import sys

import pytest

from app import handlers as h
from graph.counts import count
from graph.resolve import resolve
from graph.spec import parse, parse_file
from graph.templates import preset_path, presets

DEAD = """nc: 2
scales:
  n: [1.0, 1.0, 1024]
backbone:
  - [-1, 1, Conv, [16, 3, 2]]
  - [-1, 1, Conv, [32, 3, 2]]
  - [-1, 1, Conv, [64, 3, 2]]
  - [-1, 1, Conv, [64, 3, 2]]
  - [-1, 1, Conv, [64, 3, 2]]
  - [2, 1, Conv, [8, 1, 1]]      # 5: a branch nothing reads
  - [-1, 1, Conv, [8, 3, 1]]     # 6: reads only the dead branch
head:
  - [[2, 3, 4], 1, Detect, [nc]]
"""


@pytest.mark.parametrize("name", list(presets()))
def test_every_preset_uses_every_layer(name):
    assert resolve(parse_file(preset_path(name))[0], 640).unused() == []


def test_a_dead_branch_is_found_with_its_parameters(tmp_path):
    graph = resolve(parse(DEAD)[0], 640)
    assert graph.unused() == [5, 6]
    dead_params = sum(count(graph).per_layer[i]["params"] for i in (5, 6))
    result = h.evaluate(DEAD, 640)
    assert any(f"layers 5, 6 feed no Detect input: {dead_params:,} parameters" in n for n in result["notes"])
    f = tmp_path / "dead.yaml"
    f.write_text(DEAD)
    p = subprocess.run([sys.executable, "launch.py", "info", str(f), "--json"], capture_output=True, text=True,
                       timeout=120)
    assert json.loads(p.stdout)["unused_layers"] == [5, 6]
