"""SpecError: the one exception every bad model spec becomes, naming the layer and the cause.

`str(err)` is the one line a user sees, e.g. `layer 4 (Shuffle_Block): a stride-1 Shuffle_Block
keeps its channels ...`; `layer`, `field` and `why` stay available for the page to point at.
"""
from __future__ import annotations


class SpecError(ValueError):
    def __init__(self, why: str, layer: int | None = None, module: str | None = None,
                 field: str | None = None):
        self.why, self.layer, self.module, self.field = why, layer, module, field
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.layer is None:
            return self.why
        what = f" ({self.module})" if self.module else ""
        return f"layer {self.layer}{what}: {self.why}"

    def as_dict(self) -> dict:
        return {"error": str(self), "layer": self.layer, "module": self.module,
                "field": self.field, "why": self.why}
