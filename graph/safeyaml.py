"""The one yaml loader of the project: every yaml it reads (model files, data.yaml, templates) comes
through `load` / `load_file` here.

A yaml text is first walked as a stream of parser events (no tree is built) and refused at the first
event that breaks a rule, so a hostile file costs milliseconds:
- anchors and aliases (`&name`, `*name`): an alias bomb ("billion laughs") is a few hundred bytes that
  expand to billions of nodes;
- more than `max_nodes` nodes (graph/limits.MAX_YAML_NODES);
- collections nested deeper than `max_depth` (graph/limits.MAX_YAML_DEPTH; a model yaml needs ~6):
  PyYAML builds trees recursively, so a 1 KB `[[[[...]]]]` ends in a RecursionError;
- more than `max_bytes` of UTF-8, text that is not a str, bytes that are not UTF-8.
Only then is the text built, with the safe loader (libyaml's when it is installed).

`YamlRefused(ValueError)` is what a refusal raises: one line, `"<what>: <why>"`. A text that is
simply not valid yaml raises PyYAML's own `yaml.YAMLError`, so a caller can still try to repair it
(graph/yamlfix.py) and report the line and column.
"""
from __future__ import annotations

import yaml

from . import limits

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
_NODE = _OPEN + (yaml.ScalarEvent,)


class YamlRefused(ValueError):
    """A yaml text refused before it was built; `str(err)` is one line naming the file and the rule."""

    def __init__(self, what: str, why: str):
        self.what, self.why = what, why
        super().__init__(f"{what}: {why}")


def _where(event) -> str:
    mark = getattr(event, "start_mark", None)
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


def _check_text(text, what: str, max_bytes: int) -> None:
    if not isinstance(text, str):
        raise YamlRefused(what, f"expected yaml text, got {type(text).__name__}")
    if len(text) > max_bytes:  # a character is at least one byte: no need to encode a huge text
        raise YamlRefused(what, f"larger than {_size(max_bytes)}")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as err:  # a lone surrogate, e.g. from a JSON "\ud800"
        raise YamlRefused(what, f"not valid text (character {err.start} is an unpaired surrogate)") from None
    if size > max_bytes:
        raise YamlRefused(what, f"larger than {_size(max_bytes)}")


def _size(n: int) -> str:
    return f"{n // 2**20} MB" if n >= 2**20 and n % 2**20 == 0 else f"{n // 1024} KB"


def check(text: str, what: str = "yaml", max_bytes: int = limits.MAX_TEXT_BYTES,
          max_nodes: int = limits.MAX_YAML_NODES, max_depth: int = limits.MAX_YAML_DEPTH) -> None:
    """Walk the events of `text`; raise YamlRefused at the first rule broken, yaml.YAMLError on bad
    syntax met before that."""
    _check_text(text, what, max_bytes)
    nodes = depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise YamlRefused(what, f"yaml anchors and aliases (&name, *name) are not allowed{_where(event)}")
        if isinstance(event, _NODE):
            nodes += 1
            if nodes > max_nodes:
                raise YamlRefused(what, f"too large (more than {max_nodes} yaml nodes)")
        if isinstance(event, _OPEN):
            depth += 1
            if depth > max_depth:
                raise YamlRefused(what, f"nested deeper than {max_depth} levels{_where(event)}")
        elif isinstance(event, _CLOSE):
            depth -= 1


def load(text: str, what: str = "yaml", max_bytes: int = limits.MAX_TEXT_BYTES,
         max_nodes: int = limits.MAX_YAML_NODES, max_depth: int = limits.MAX_YAML_DEPTH):
    """yaml text -> python data (dicts, lists, str, numbers, None, dates), or YamlRefused /
    yaml.YAMLError. `what` names the text in messages, e.g. "data.yaml"."""
    check(text, what, max_bytes, max_nodes, max_depth)
    loader = _Loader(text)  # SafeLoader / CSafeLoader: plain data only, never python objects
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_text(path: str, what: str | None = None, max_bytes: int = limits.MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of a file of at most `max_bytes`; YamlRefused if larger or not UTF-8, OSError
    if it cannot be opened."""
    what = what or path
    with open(path, "rb") as fh:
        raw = fh.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise YamlRefused(what, f"larger than {_size(max_bytes)}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise YamlRefused(what, f"not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start})") from None


def load_file(path: str, what: str | None = None, max_bytes: int = limits.MAX_TEXT_BYTES,
              max_nodes: int = limits.MAX_YAML_NODES, max_depth: int = limits.MAX_YAML_DEPTH):
    """`load` of a file's text; OSError if it cannot be opened (the caller says so its own way)."""
    what = what or path
    return load(read_text(path, what, max_bytes), what, max_bytes, max_nodes, max_depth)
