"""Per-layer latency: where a run's time goes, mapped back to the yaml layers.

- onnx: onnxruntime's own profiler (SessionOptions.enable_profiling) on the exported file. Its JSON
  holds one event per node per run (`<node>_kernel_time`, `dur` in microseconds). A node belongs to
  the yaml layer its name says: torch.onnx names every node after the module that made it,
  `/model.<layer>/<path>/<Op>` (the Detect head's decode tail too: it runs inside the head's
  forward), and onnxruntime keeps that prefix on the nodes it fuses (`/model.0/act/Mul/QuickGeluFusion/`,
  `/model.1/conv/Conv_output_0_nchwc`). The nodes onnxruntime adds (NCHWc layout conversions,
  `ReorderInput` / `ReorderOutput`) are named by a counter only; they are given to their neighbour
  in the optimised graph onnxruntime writes out (SessionOptions.optimized_model_filepath): a
  ReorderInput to the layer that reads its output (it prepares that layer's input; the image's
  goes to layer 0), any other to the layer whose output it reads. A node left with no layer goes to
  an `other` bucket, named, so nothing is hidden (none is expected).
- torch: forward hooks around every yaml layer of the fused model (each layer is one module).
- openvino: its per-node performance counters (PERF_COUNT) on its runtime graph, mapped the same way
  (its `Reorder` layout nodes and the splits it makes up are named by counters, given to neighbours).

Each profile runs `runs` times after one warm-up run; a layer's time is its median over the runs, and
`coverage` is the median over the runs of (time in the profiled nodes / the run's whole time).
"""
from __future__ import annotations

import json
import os
import re
import statistics
import tempfile
import time
from collections import defaultdict

LAYER = re.compile(r"^/model\.(\d+)(?:[/.]|$)")
KERNEL = "_kernel_time"
TO_CONSUMER = {"ReorderInput", "Reorder"}  # layout conversions: they prepare the input of their reader


def layer_of_name(name: str) -> int | None:
    """The yaml layer a node name says it belongs to (`/model.12/cv1/conv/Conv` -> 12), or None."""
    m = LAYER.match(name)
    return int(m.group(1)) if m else None


def node_layers(nodes: dict[str, tuple[str, list[str], list[str]]]) -> dict[str, int | None]:
    """Every node of a graph ({name: (op type, the nodes it reads, the nodes that read it)}) -> its
    yaml layer: by its name, else by its nearest named neighbour (see the module docstring); None when
    no neighbour has one."""
    found = {name: layer_of_name(name) for name in nodes}
    named = dict(found)  # by name only: a walk never goes through a node it gave a layer

    def nearest(name: str, upstream: bool) -> int | None:
        """Breadth first along one direction of the edges: the layer of the nearest named node."""
        frontier, seen = [name], {name}
        while frontier:
            step = []
            for here in frontier:
                for other in nodes[here][1 if upstream else 2]:
                    if other in seen or other not in nodes:
                        continue
                    if named[other] is not None:
                        return named[other]
                    seen.add(other)
                    step.append(other)
            frontier = step
        return None

    for name, (op, _, _) in nodes.items():
        if found[name] is None:
            for upstream in ((False, True) if op in TO_CONSUMER else (True, False)):
                found[name] = nearest(name, upstream)
                if found[name] is not None:
                    break
    return found


def onnx_nodes(graph) -> dict[str, tuple[str, list[str], list[str]]]:
    """An onnx.GraphProto's nodes for node_layers (edges through the tensors they pass)."""
    producer = {out: n.name for n in graph.node for out in n.output}
    readers = defaultdict(list)
    for n in graph.node:
        for t in n.input:
            readers[t].append(n.name)
    return {n.name: (n.op_type, [producer[t] for t in n.input if t in producer],
                     [r for t in n.output for r in readers.get(t, [])]) for n in graph.node}


def openvino_nodes(model) -> dict[str, tuple[str, list[str], list[str]]]:
    """An OpenVINO runtime model's executed nodes for node_layers (by their friendly names)."""
    out = {}
    for op in model.get_ordered_ops():
        rt = op.get_rt_info()
        kind = str(rt["layerType"].astype(str)) if "layerType" in rt else op.get_type_name()
        out[op.get_friendly_name()] = (kind, [i.get_source_output().get_node().get_friendly_name() for i in op.inputs()],
                                       [t.get_node().get_friendly_name() for o in op.outputs()
                                        for t in o.get_target_inputs()])
    return out


def _medians(per_run: list[dict], keys) -> dict:
    return {k: statistics.median(run.get(k, 0.0) for run in per_run) for k in keys}


def _summary(per_run: list[dict], other_runs: list[dict], run_ms: list[float], nodes: int, how: str,
             by_neighbour: int = 0) -> dict:
    layers = sorted({k for run in per_run for k in run})
    others = sorted({k for run in other_runs for k in run})
    layer_ms = _medians(per_run, layers)
    other_ms = _medians(other_runs, others)
    # the same runs' node time over their whole time: what the profile accounts for, free of any drift
    # of the machine between these runs and the timing runs
    cover = [(sum(a.values()) + sum(b.values())) / t for a, b, t in zip(per_run, other_runs, run_ms) if t]
    return {"how": how, "runs": len(per_run), "layer_ms": layer_ms, "other_ms": other_ms,
            "sum_ms": sum(layer_ms.values()) + sum(other_ms.values()),
            "run_ms": statistics.median(run_ms) if run_ms else None,
            "coverage": statistics.median(cover) if cover else None, "nodes": nodes, "by_neighbour": by_neighbour}


def parse_ort_profile(events: list[dict], layers: dict[str, int | None], skip: int = 1) -> dict:
    """A profile JSON's events + node -> layer (node_layers) -> per-layer medians over the runs after
    the first `skip` (warm-up)."""
    runs = sorted((e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"),
                  key=lambda e: e["ts"])[skip:]
    per_run = [defaultdict(float) for _ in runs]
    other_runs = [defaultdict(float) for _ in runs]
    seen = set()
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith(KERNEL):
            continue
        k = next((j for j, r in enumerate(runs) if r["ts"] <= e["ts"] <= r["ts"] + r["dur"]), None)
        if k is None:
            continue
        node = e["name"][: -len(KERNEL)]
        seen.add(node)
        layer = layers.get(node, layer_of_name(node))
        if layer is None:
            other_runs[k][node] += e["dur"] / 1e3
        else:
            per_run[k][layer] += e["dur"] / 1e3
    named = sum(1 for n in seen if layer_of_name(n) is None and layers.get(n) is not None)
    return _summary(per_run, other_runs, [r["dur"] / 1e3 for r in runs], len(seen), "onnxruntime profiler", named)


def onnx_profile(onnx_path: str, x, threads: int, runs: int) -> dict:
    """Run the ONNX file `runs` + 1 times under onnxruntime's profiler; per-layer medians."""
    import onnx

    from .latency import ort_session

    with tempfile.TemporaryDirectory(prefix="yld-profile-") as tmp:
        optimized = os.path.join(tmp, "optimized.onnx")
        session = ort_session(onnx_path, threads, profile_prefix=os.path.join(tmp, "profile"), optimized_path=optimized)
        name = session.get_inputs()[0].name
        for _ in range(runs + 1):
            session.run(None, {name: x})
        with open(session.end_profiling(), encoding="utf-8") as fh:
            events = json.load(fh)
        layers = node_layers(onnx_nodes(onnx.load(optimized, load_external_data=False).graph))
    return parse_ort_profile(events, layers)


def torch_profile(model, x, threads: int, runs: int) -> dict:
    """Forward hooks around each yaml layer of the (fused) model; per-layer medians over `runs`."""
    import torch

    from .latency import torch_threads

    clock: dict[int, float] = {}
    current: dict[int, float] = defaultdict(float)
    handles = []
    for layer in model.model:
        handles.append(layer.register_forward_pre_hook(lambda m, inp: clock.__setitem__(m.i, time.perf_counter())))
        handles.append(layer.register_forward_hook(
            lambda m, inp, out: current.__setitem__(m.i, current[m.i] + (time.perf_counter() - clock[m.i]) * 1e3)))
    per_run, run_ms = [], []
    x = torch.from_numpy(x)
    try:
        with torch_threads(threads), torch.inference_mode():
            for k in range(runs + 1):
                current.clear()
                t0 = time.perf_counter()
                model(x)
                if k:
                    run_ms.append((time.perf_counter() - t0) * 1e3)
                    per_run.append(dict(current))
    finally:
        for h in handles:
            h.remove()
    return _summary(per_run, [{} for _ in per_run], run_ms, len(model.model), "forward hooks per layer")


def openvino_profile(onnx_path: str, x, threads: int, runs: int) -> dict:
    """OpenVINO's per-node counters (PERF_COUNT), mapped by node name; per-layer medians over `runs`."""
    from .latency import openvino_compiled

    compiled = openvino_compiled(onnx_path, threads, profile=True)
    request = compiled.create_infer_request()
    mapping = node_layers(openvino_nodes(compiled.get_runtime_model()))
    per_run, other_runs, run_ms, nodes = [], [], [], set()
    for k in range(runs + 1):
        t0 = time.perf_counter()
        request.infer([x])
        if not k:
            continue
        run_ms.append((time.perf_counter() - t0) * 1e3)
        layers, other = defaultdict(float), defaultdict(float)
        for info in request.profiling_info:
            if str(info.status).endswith("NOT_RUN"):
                continue
            nodes.add(info.node_name)
            ms = info.real_time.total_seconds() * 1e3
            layer = mapping.get(info.node_name)
            if layer is None:
                other[info.node_name] += ms
            else:
                layers[layer] += ms
        per_run.append(layers)
        other_runs.append(other)
    named = sum(1 for n in nodes if layer_of_name(n) is None and mapping.get(n) is not None)
    return _summary(per_run, other_runs, run_ms, len(nodes), "OpenVINO performance counters", named)


PROFILERS = {"onnx": lambda path, model, x, threads, runs: onnx_profile(path, x, threads, runs),
             "torch": lambda path, model, x, threads, runs: torch_profile(model, x, threads, runs),
             "openvino": lambda path, model, x, threads, runs: openvino_profile(path, x, threads, runs)}
