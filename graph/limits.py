"""Hard limits on what a spec may ask for, so a hostile or mistyped request is refused with a
message before anything is allocated. Generous for every real lightweight detector."""

MAX_TEXT_BYTES = 256 * 1024   # a model yaml is a few KB
MAX_YAML_NODES = 20_000       # yaml nodes after parsing (alias bombs are refused outright)
MAX_YAML_DEPTH = 16           # nested lists / mappings; a model yaml needs ~6
MAX_DATA_YAML_BYTES = 2**20   # a dataset's data.yaml (names of up to MAX_NC classes fit easily)
MAX_LAYERS = 400              # YOLOv8x has 23
MAX_REPEATS = 64              # n, before depth scaling
MAX_CHANNELS = 8192           # per layer, after width scaling
MAX_NC = 10_000
MAX_PARAMS = 500_000_000      # YOLOv8x has 68 M
MIN_IMGSZ, MAX_IMGSZ = 32, 4096
