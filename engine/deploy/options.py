"""What `deploy` (engine/deploy/targets.py) is asked to do: the options of `launch.py export` and the
Export tab — format, INT8 and its calibration data, timing threads — their flags, and the one-line
message for a bad one. No heavy imports: launch.py builds its parser from this before knowing the
subcommand.
"""
from __future__ import annotations

from dataclasses import dataclass

FORMATS = ("onnx", "openvino", "ncnn")
NEEDS = {"ncnn": ("pnnx", "ncnn")}  # optional packages a format needs (pip names = import names)
DEFAULT_CALIB = 64  # calibration images


@dataclass
class DeployOptions:
    format: str = "onnx"
    int8: bool = False
    data: str = "shapes"  # calibration (train split) and accuracy (val split)
    calib: int = DEFAULT_CALIB  # calibration images
    runs: int = 20  # timed runs per target
    threads: int | None = None  # None: the cores this process may use
    measure: bool | None = None  # time the targets; None: when int8 or OpenVINO is asked for
    evaluate: bool | None = None  # mAP on the val split; None: a trained model, when measured
    val_images: int | None = None  # None: the whole val split
    sensitivity: bool | None = None  # per-layer int8 cost; None: when int8 loses more than MAX_MAP50_LOSS

    @staticmethod
    def add_arguments(parser) -> None:
        """`launch.py export`'s flags for these options (argparse), next to what they mean."""
        parser.add_argument("--format", default="onnx", help="onnx (default) | openvino: also the OpenVINO IR | "
                            "ncnn: also the ncnn .param/.bin (pnnx); each checked against onnxruntime")
        parser.add_argument("--int8", action="store_true", help="also a static INT8 model (QDQ, per-channel), "
                            "calibrated on --data; size, latency and (for a checkpoint) mAP of both reported")
        parser.add_argument("--data", default="shapes", help="images to calibrate on (train split) and measure "
                            "mAP on (val split): shapes (built in, default) or a data.yaml")
        parser.add_argument("--calib", type=int, default=DEFAULT_CALIB,
                            help=f"calibration images (default {DEFAULT_CALIB})")
        parser.add_argument("--threads", type=int,
                            help="threads for the timings (default: every core this process may use)")

    @classmethod
    def from_args(cls, a) -> "DeployOptions":
        return cls(format=a.format, int8=a.int8, data=a.data, calib=a.calib, threads=a.threads)

    def problem(self) -> str:
        """'' when the options are usable, else one line saying which is not."""
        fmt = str(self.format).lower()
        absent = missing_packages(fmt)
        checks = [(fmt in FORMATS, f"--format must be one of {', '.join(FORMATS)}, not {self.format!r}"),
                  (1 <= int(self.calib) <= 10000, f"--calib must be 1..10000 images, not {self.calib}"),
                  (1 <= int(self.runs) <= 1000, f"the number of timed runs must be 1..1000, not {self.runs}"),
                  (self.threads is None or 1 <= int(self.threads) <= 256,
                   f"--threads must be 1..256, not {self.threads}"),
                  (self.val_images is None or int(self.val_images) >= 1, "the val image count must be at least 1"),
                  (bool(str(self.data or "").strip()), "--data must name a data.yaml or 'shapes'"),
                  (not absent, f"--format {fmt} needs {' and '.join(absent)}: pip install {' '.join(absent)}")]
        return next((why for ok, why in checks if not ok), "")


def missing_packages(fmt: str) -> list[str]:
    """The packages `fmt` needs that are not installed (looked up, not imported)."""
    import importlib.util

    return [p for p in NEEDS.get(fmt, ()) if importlib.util.find_spec(p) is None]
