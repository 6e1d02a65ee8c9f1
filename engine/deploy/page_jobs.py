"""The page's deploy work as jobs for a child process (engine/deploy/isolated.py): plain data in,
plain data out, the errors a user can cause returned as {"error": one line} rather than raised.

- `measure_job`: the Design tab's Measure (measure.measure_design), its result as JSON has it
  (`profile.layer_ms` keyed by strings; `layer_ms_by_index` turns them back).
- `deploy_job`: the Export tab's "Export and measure" (targets.deploy) of a design's yaml or a
  checkpoint / demo file, the files written where the parent asked; -> the targets and the lines the
  panel's notes show.
"""
from __future__ import annotations

MEASURE = "engine.deploy.page_jobs:measure_job"
DEPLOY = "engine.deploy.page_jobs:deploy_job"


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def measure_job(yaml: str, imgsz: int, per_layer: list[dict], backend: str, threads: int | None,
                budget_s: float) -> dict:
    """measure_design's result (JSON form), or {"error": why} for a design or option it cannot measure."""
    from graph.errors import SpecError

    from .measure import latency_json, measure_design

    try:
        return latency_json(measure_design(yaml, imgsz, per_layer, backend=backend, threads=threads,
                                           budget_s=budget_s))
    except (SpecError, RuntimeError, ValueError) as err:  # ExportError / LatencyError are RuntimeErrors
        return {"error": _first_line(err)}


def layer_ms_by_index(result: dict) -> dict:
    """A measure_job result with `profile.layer_ms` keyed by layer index again, as measure_design has it."""
    prof = result["profile"]
    return {**result, "profile": {**prof, "layer_ms": {int(k): v for k, v in prof["layer_ms"].items()}}}


def deploy_job(out: str, imgsz: int, options: dict, yaml: str | None = None, name: str = "model",
               path: str | None = None) -> dict:
    """Export and measure the design `yaml` (named `name`) or the checkpoint / design file `path` to
    `out` and its siblings, as targets.deploy does; -> {"targets": [...], "notes": [lines]} or
    {"error": why}."""
    from graph.errors import SpecError

    from ..checkpoint import CheckpointError
    from ..data.config import DataError
    from ..images import ImageError
    from ..loading import load_any, load_design
    from .export import ExportError
    from .targets import DeployOptions, deploy

    try:
        loaded = load_design(yaml, imgsz, name) if path is None else load_any(path, imgsz)
        report = deploy(loaded, out, imgsz, False, DeployOptions(**options))
    except (SpecError, CheckpointError, ExportError, DataError, ImageError, ValueError) as err:
        return {"error": str(err)}
    r = report.onnx
    notes = [r.nodes_line(), f"metadata_props: {', '.join(r.metadata)}", *r.notes, *report.details()]
    return {"targets": report.targets, "notes": [line for line in notes if line]}
