"""The Gradio UI: layout and thin handlers only.

The app sends nothing off the machine: Gradio's analytics and its version check (api.gradio.app, run
when a Blocks is created) and the Hugging Face Hub's telemetry are off before gradio is first imported.
An environment that sets these itself keeps its choice; app/main.py also builds its Blocks with
analytics_enabled=False."""
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
