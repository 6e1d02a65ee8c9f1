"""The Gradio UI: layout and thin handlers only (the designer issue)."""
