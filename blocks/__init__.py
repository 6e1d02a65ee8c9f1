"""The block catalogue. Importing this package imports every family file, so every block is
registered before anyone looks one up (see `blocks/registry.py`)."""
from . import conv, csp, ghost, gsconv, heads, mobilenet, repvgg, shufflenet, torchnn  # noqa: F401  (registers)
from . import area, c3k2, cspx, elan, psa, rep, transformer, v10  # noqa: F401  (registers: Ultralytics blocks)
from .registry import REGISTRY, BlockInfo, UnknownBlock, get_block, info_of, list_blocks

__all__ = ["REGISTRY", "BlockInfo", "UnknownBlock", "get_block", "info_of", "list_blocks"]
