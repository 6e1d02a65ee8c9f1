"""Block arguments from yaml: a literal parser plus the names `nc`, `anchors` and `None`, checked
against the block's schema (blocks/registry.py). Nothing here ever evaluates text: a string where a
number belongs is an error that quotes it back.
"""
from __future__ import annotations

import math
import re

from blocks.registry import BlockInfo

_NAMES = {"None": None, "null": None, "~": None, "True": True, "true": True,
          "False": False, "false": False}
_INT = re.compile(r"[+-]?\d{1,9}")
_FLOAT = re.compile(r"[+-]?(\d{1,9}\.\d*|\.\d+|\d{1,9})([eE][+-]?\d{1,3})?")


def literal(value, nc: int, anchors):
    """A yaml arg value with the house names replaced: 'nc', 'anchors', 'None', numbers in text."""
    if isinstance(value, str):
        text = value.strip().strip("'\"")
        if text == "nc":
            return nc
        if text == "anchors":
            if anchors is None:
                raise ValueError("uses `anchors`, but the yaml has no top-level anchors: list "
                                 "(YOLOv5's COCO anchors: [10,13, 16,30, 33,23], [30,61, 62,45, 59,119], "
                                 "[116,90, 156,198, 373,326])")
            return anchors
        if text in _NAMES:
            return _NAMES[text]
        if _INT.fullmatch(text):
            return int(text)
        if _FLOAT.fullmatch(text):
            return float(text)
        return text
    if isinstance(value, (list, tuple)):
        return tuple(literal(v, nc, anchors) for v in value)
    return value


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _coerce(kind: str, value):
    """Return the value as `kind`, or raise ValueError with what was expected."""
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(value, float) and not value.is_integer()):  # is_integer: False for inf / nan
            raise ValueError("expects a whole number")
        return int(value)
    if kind == "int?":
        return None if value is None else _coerce("int", value)
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError("expects a number")
        return float(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError("expects True / False (or 1 / 0)")
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError("expects a word")
        return value
    if kind == "ints":
        if isinstance(value, (list, tuple)):
            if not value:
                raise ValueError("expects a whole number or a list of them")
            return tuple(_coerce("int", v) for v in value)
        return _coerce("int", value)
    if kind == "anchors":
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):  # `anchors: 3`: 3 per level, placed later
            if not 1 <= value <= 16:
                raise ValueError("expects a count of anchors per level from 1 to 16")
            return value
        if not isinstance(value, (list, tuple)) or not value or not all(
                isinstance(lv, (list, tuple)) and lv for lv in value):
            raise ValueError("expects anchors: one list of pixel sizes [w, h, w, h, ...] per level")
        return tuple(tuple(float(_coerce("float", v)) for v in lv) for lv in value)
    raise AssertionError(f"unknown arg kind {kind}")


def _in_range(arg, value) -> bool:
    values = value if isinstance(value, tuple) and arg.kind == "ints" else (value,)
    for v in values:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        if (arg.low is not None and v < arg.low) or (arg.high is not None and v > arg.high):
            return False
    return True


def bind(info: BlockInfo, raw: tuple, nc: int, anchors) -> dict:
    """Map a yaml args list onto the block's schema: {name: value}, defaults filled.

    Raises ValueError whose message names the argument and the problem."""
    if not isinstance(raw, (list, tuple)):
        raw = (raw,)
    names = ", ".join(a.name for a in info.args) or "none"
    if len(raw) > len(info.args):
        raise ValueError(f"{info.name} takes at most {len(info.args)} args ({names}), got {len(raw)}")
    out = {}
    for i, arg in enumerate(info.args):
        if i < len(raw):
            try:
                value = literal(raw[i], nc, anchors)
            except ValueError as err:
                raise ValueError(f"argument {i + 1} ({arg.name}) {err}") from None
        elif arg.required:
            raise ValueError(f"{info.name} needs its {arg.name} argument ({arg.help}); args are ({names})")
        else:
            out[arg.name] = arg.default
            continue
        try:
            value = _coerce(arg.kind, value)
        except ValueError as err:
            raise ValueError(f"argument {i + 1} ({arg.name}) {err}, got {_show(value)}") from None
        if not _in_range(arg, value):
            lo = "" if arg.low is None else f"{arg.low:g}"
            hi = "" if arg.high is None else f"{arg.high:g}"
            raise ValueError(f"argument {i + 1} ({arg.name}) = {_show(value)} is outside {lo}..{hi}")
        if arg.choices and value not in arg.choices:
            raise ValueError(f"argument {i + 1} ({arg.name}) = {_show(value)} is not one of {list(arg.choices)}")
        out[arg.name] = value
    return out
