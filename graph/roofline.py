"""A roofline estimate of latency: for each layer of the deploy form, the longer of its FLOPs at the
device's peak compute and its memory traffic (graph/traffic.py) at its peak bandwidth, summed over
the layers (Williams, Waterman & Patterson, "Roofline", CACM 2009).

It is an ESTIMATE and an optimistic one: peaks are what the silicon can do at best (every SIMD lane
busy, the memory bus saturated); real kernels on small channel counts reach a fraction of them, and
per-op overheads are ignored. The row for this machine, measured (engine/deploy/machine.py), stands
beside its measured latency so the size of that gap is seen, not guessed.

DEVICES: published peak fp32 compute and memory bandwidth of a few device classes. Each says how the
figure follows from the vendor's specification (cores x clock x FLOPs per cycle; bus width x transfer
rate) and where those come from.
"""
from __future__ import annotations

DEVICES = [
    {"key": "rpi4", "name": "Raspberry Pi 4 (4x Cortex-A72 1.5 GHz, CPU)", "gflops": 48.0, "gbps": 12.8,
     "source": "4 cores x 1.5 GHz x 8 fp32 FLOP/cycle (one 128-bit NEON FMA a cycle, as vfpbench measures the "
               "A72); LPDDR4-3200 on a 32-bit bus = 12.8 GB/s. raspberrypi.com/products/raspberry-pi-4-model-b/"
               "specifications; wlog.flatlib.jp/2015/10/30/n1787 (A72 vfpbench)"},
    {"key": "rpi5", "name": "Raspberry Pi 5 (4x Cortex-A76 2.4 GHz, CPU)", "gflops": 153.6, "gbps": 17.1,
     "source": "4 cores x 2.4 GHz x 16 fp32 FLOP/cycle (two 128-bit NEON FMA pipes, Arm Cortex-A76 Software "
               "Optimization Guide); LPDDR4X-4267 on a 32-bit bus = 17.1 GB/s. raspberrypi.com/products/"
               "raspberry-pi-5"},
    {"key": "i7-1165g7", "name": "Intel Core i7-1165G7 laptop (4 cores, 2.8 GHz base, CPU)", "gflops": 358.4,
     "gbps": 68.3,
     "source": "4 cores x 2.8 GHz x 32 fp32 FLOP/cycle (one AVX-512 FMA unit per core); LPDDR4x-4266 on a "
               "128-bit bus = 68.3 GB/s. ark.intel.com (i7-1165G7: cores, base clock, memory types); Intel 64 "
               "and IA-32 Architectures Optimization Reference Manual (Ice Lake client FMA units)"},
    {"key": "orin-nano", "name": "NVIDIA Jetson Orin Nano 8GB (GPU, 625 MHz)", "gflops": 1280.0, "gbps": 68.0,
     "source": "1024 CUDA cores x 2 FLOP (FMA) x 625 MHz = 1.28 TFLOP/s fp32; 128-bit LPDDR5, 68 GB/s. "
               "NVIDIA Jetson Orin Nano Series Data Sheet (DS-11105)"},
    {"key": "apple-m1-gpu", "name": "Apple M1 (8-core GPU)", "gflops": 2600.0, "gbps": 68.25,
     "source": "2.6 TFLOP/s fp32 (Apple, 'Apple unleashes M1', newsroom, 10 Nov 2020); LPDDR4X-4266 on a "
               "128-bit bus = 68.25 GB/s"},
    {"key": "t4", "name": "NVIDIA T4 (data-centre GPU)", "gflops": 8100.0, "gbps": 320.0,
     "source": "8.1 TFLOP/s fp32, 320 GB/s GDDR6. NVIDIA T4 Tensor Core GPU data sheet"},
]


def layer_seconds(flops: float, mac_bytes: float, gflops: float, gbps: float) -> float:
    """One layer on the roofline: the longer of computing and moving its bytes."""
    return max(flops / (gflops * 1e9), mac_bytes / (gbps * 1e9))


def estimate(per_layer: list[dict], gflops: float, gbps: float) -> dict:
    """{ms, memory_bound: layers limited by bandwidth, ms_per_layer} of a count's per_layer rows
    (each with fused_gflops and mac_bytes) on a device of `gflops` GFLOP/s and `gbps` GB/s."""
    ms = [layer_seconds(r["fused_gflops"] * 1e9, r["mac_bytes"], gflops, gbps) * 1e3 for r in per_layer]
    memory = [r["index"] for r in per_layer if r["mac_bytes"] / (gbps * 1e9) > r["fused_gflops"] / gflops]
    return {"ms": sum(ms), "memory_bound": memory, "ms_per_layer": ms}


def table(per_layer: list[dict], this_machine: dict | None = None) -> list[dict]:
    """One row per device: name, peaks, ridge point (FLOP/byte where compute and bandwidth balance),
    the estimate and the source; `this_machine` ({name, gflops, gbps, source, measured_ms?}) first."""
    rows = []
    for dev in ([this_machine] if this_machine else []) + DEVICES:
        est = estimate(per_layer, dev["gflops"], dev["gbps"])
        row = {"key": dev.get("key", "this"), "name": dev["name"], "gflops": dev["gflops"], "gbps": dev["gbps"],
               "ridge": dev["gflops"] / dev["gbps"], "estimate_ms": est["ms"],
               "memory_bound_layers": len(est["memory_bound"]), "source": dev["source"]}
        if dev.get("measured_ms"):
            row["measured_ms"] = dev["measured_ms"]
            row["measured_over_estimate"] = dev["measured_ms"] / est["ms"] if est["ms"] else None
        rows.append(row)
    return rows
