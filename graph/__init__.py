"""Spec -> graph -> counts / picture / nn.Module. No Gradio, no training here (DESIGN.md)."""
