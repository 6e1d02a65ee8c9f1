"""Finding 1: no file on the server is readable through the page. A client that posts a FileData
naming a server path (no upload) to any file-taking event gets nothing of that file back: the yaml
upload, the Test tab's images and checkpoint, the Train tab's dataset zip — plain paths, paths
that climb out of the upload folder with `..`, and links planted inside it."""
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from bench.queue_client import call, config, default_inputs, event, file_data

MARKER = "PLANTED-SECRET-7f3a"


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Files an attacker would like to read, outside every folder the app serves from."""
    d = tmp_path_factory.mktemp("outside")
    (d / "secret.yaml").write_text(f"# {MARKER}\nnc: 80\nbackbone: [[-1, 1, Conv, [16, 3, 2]]]\nhead: []\n")
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(d / "secret.png")
    _checkpoint(str(d / "secret.pt"))
    with zipfile.ZipFile(d / "secret.zip", "w") as z:
        z.writestr("images/train/a.png", (d / "secret.png").read_bytes())
        z.writestr("labels/train/a.txt", "0 0.5 0.5 0.2 0.2\n")
        z.writestr("data.yaml", f"names: [{MARKER}]\n")
    return d


def _checkpoint(path: str) -> None:
    """A real checkpoint of this project whose one class is named MARKER: loaded, it would show."""
    from app.handlers import preset_yaml
    from engine.checkpoint import save_checkpoint
    from graph.model import build
    from graph.resolve import resolve
    from graph.spec import parse

    text = preset_yaml("yolov8n", 1)[1]
    save_checkpoint(path, build(resolve(parse(text)[0], 64)), text, names=[MARKER], imgsz=64)


def forms(planted_dir, name: str) -> list[str]:
    """The ways to name a planted file: its path, a climb out of the upload folder, a link inside it."""
    from gradio.utils import get_upload_folder

    target = str(planted_dir / name)
    upload = get_upload_folder()
    climb = os.path.join(upload, *[".."] * (upload.count("/") + 1), target.lstrip("/"))
    link_dir = os.path.join(upload, "planted-links")
    os.makedirs(link_dir, exist_ok=True)
    link = os.path.join(link_dir, name)
    if not os.path.lexists(link):
        os.symlink(target, link)
    return [target, climb, link]


def _assert_nothing_leaked(status: int, text: str, messages: list[dict]):
    assert MARKER not in text
    done = [m for m in messages if m.get("msg") in ("process_completed", "unexpected_error")]
    assert done or status >= 400, (status, messages)


@pytest.mark.parametrize("form", [0, 1, 2], ids=["path", "dotdot", "symlink"])
def test_yaml_upload_event_reads_no_server_file(app_url, planted, form):
    dep = event(config(app_url), "on_upload")
    data = default_inputs(dep)
    data[0] = file_data(forms(planted, "secret.yaml")[form])
    status, text, messages = call(app_url, dep, data)
    _assert_nothing_leaked(status, text, messages)


@pytest.mark.parametrize("form", [0, 1, 2], ids=["path", "dotdot", "symlink"])
def test_test_tab_images_read_no_server_file(app_url, planted, form):
    dep = event(config(app_url), "do_predict")
    data = default_inputs(dep)
    data[0] = [file_data(forms(planted, "secret.png")[form])]
    status, text, messages = call(app_url, dep, data)
    _assert_nothing_leaked(status, text, messages)
    end = messages[-1]
    gallery = (end.get("output") or {}).get("data", [None])[0] if end.get("success") else None
    assert not gallery, "a server image came back as a detection picture"


@pytest.mark.parametrize("form", [0, 1, 2], ids=["path", "dotdot", "symlink"])
def test_test_tab_checkpoint_reads_no_server_file(app_url, planted, form, tmp_path):
    cfg = config(app_url)
    dep = event(cfg, "do_predict")
    img = tmp_path / "ok.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(img)
    data = default_inputs(dep)
    data[0] = [file_data(forms(planted, "secret.png")[0])]
    data[1] = "Uploaded checkpoint"
    data[2] = file_data(forms(planted, "secret.pt")[form])
    data[4], data[7] = 0.0, 64  # confidence 0: a loaded checkpoint would list boxes of class MARKER
    status, text, messages = call(app_url, dep, data)
    _assert_nothing_leaked(status, text, messages)


@pytest.mark.parametrize("form", [0, 1, 2], ids=["path", "dotdot", "symlink"])
def test_train_tab_zip_reads_no_server_file(app_url, planted, form):
    runs = os.environ["YLD_RUNS"]
    before = set(os.listdir(runs)) if os.path.isdir(runs) else set()
    dep = event(config(app_url), "start")
    data = default_inputs(dep)
    data[1] = "Upload a zip (YOLO layout)"
    data[3] = file_data(forms(planted, "secret.zip")[form])
    data[4] = 1
    status, text, messages = call(app_url, dep, data)
    _assert_nothing_leaked(status, text, messages)
    after = set(os.listdir(runs)) if os.path.isdir(runs) else set()
    assert after == before, "a refused start left a run folder"


def test_a_checkpoint_path_not_offered_by_the_app_is_refused(app_url, planted):
    """The model list offers runs/**/best.pt; any other path posted as the choice is refused."""
    from app.paths import PathRefused, run_file

    with pytest.raises(PathRefused, match="not a file uploaded"):
        run_file(str(planted / "secret.pt"), "checkpoint")


def test_client_file_accepts_real_uploads_only(planted):
    from gradio.utils import get_upload_folder

    from app.paths import PathRefused, client_file

    folder = os.path.join(get_upload_folder(), "abc123")
    os.makedirs(folder, exist_ok=True)
    good = os.path.join(folder, "model.yaml")
    with open(good, "w") as fh:
        fh.write("nc: 1\n")
    assert client_file(good, "yaml upload") == os.path.realpath(good)
    assert client_file(file_data(good) and type("F", (), {"path": good})(), "x") == os.path.realpath(good)
    for bad in ["/etc/passwd", str(planted / "secret.yaml"), good + "\x00", "", None, 7]:
        with pytest.raises(PathRefused):
            client_file(bad, "yaml upload")


def test_gradio_own_upload_check_is_on(app_url):
    """mount_gradio_app never marks the blocks launched; the server does, so Gradio's own check of
    input files runs too."""
    dep = event(config(app_url), "on_upload")
    data = default_inputs(dep)
    data[0] = file_data("/etc/hostname")
    status, text, messages = call(app_url, dep, data)
    end = messages[-1]
    assert end.get("success") is False and "not uploaded" in text.replace("was not uploaded", "not uploaded")
