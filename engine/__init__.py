"""Jobs on a model: export, predict, data, loss, train, metrics, viewer (later issues). Never imports
gradio."""
