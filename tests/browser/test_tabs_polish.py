"""Issue 15 in the browser: the Train tab shows only what the dataset source needs, checks its numbers
quietly beside the fields, says what a stop waits for (not as an error) and that a run stopped
mid-epoch stopped during that epoch, and its run lists (and the Test tab's) stay current; the Test
tab's latency has a median, a spread and the threads; the Export tab keeps the ONNX check beside the
pack. Screenshots: test-artifacts/browser/15-*.png."""
import re

from PIL import Image, ImageDraw

TOAST = '[data-testid="toast-body"]'


def options_once(page, label, text, timeout_s=30):
    """The dropdown's options once one contains `text`: the lists refresh on load and on tab select, an
    update that lands after the click (late on a loaded machine)."""
    for _ in range(int(timeout_s * 2)):
        texts = options(page, label)
        if any(text in t for t in texts):
            return texts
        page.wait_for_timeout(500)
    return texts


def options(page, label, shot=None, name=""):
    page.get_by_label(label, exact=True).click()
    texts = page.get_by_role("option").all_inner_texts()
    if shot:
        shot(page, name)
    page.mouse.click(5, 5)  # close the list
    return texts


def test_train_sources_numbers_and_a_stop_mid_epoch(page, shot, app_url):
    page.get_by_role("tab", name="Train").click()
    page.wait_for_selector("#train-design")
    path, zipped = page.locator("#train-data-path"), page.locator("#train-zip")
    assert not path.is_visible() and not zipped.is_visible()  # Built-in shapes needs neither
    page.get_by_label("data.yaml on the server").check()
    path.wait_for(state="visible")
    assert not zipped.is_visible()
    page.get_by_label("Upload a zip (YOLO layout)").check()
    zipped.wait_for(state="visible")
    assert not path.is_visible()
    page.get_by_label("Built-in shapes").check()
    zipped.wait_for(state="hidden")

    # out-of-range numbers: said next to the fields, quietly (no toast); Start refuses the same way
    page.get_by_label("Epochs", exact=True).fill("0")
    page.get_by_label("Train image size", exact=True).fill("300")
    page.wait_for_function("() => document.querySelector('#train-settings').innerText.includes('size 300')")
    page.locator("#train-start").click()
    page.wait_for_timeout(1500)
    assert page.locator(TOAST).count() == 0
    assert page.locator("#train-progress").get_attribute("data-state") == "idle"
    assert "Epochs 0 is out of range" in page.locator("#train-settings").inner_text()
    shot(page, "15-train-bad-numbers")

    # a run stopped mid-epoch: what the stop waits for, then "stopped during epoch 1 (batch k/n)"
    page.get_by_label("Epochs", exact=True).fill("2")
    page.get_by_label("Train image size", exact=True).fill("64")
    page.get_by_label("Batch", exact=True).fill("4")
    page.wait_for_function("() => !document.querySelector('#train-settings').innerText.trim()")
    page.locator("#train-start").click()
    page.wait_for_function("() => /batch ([3-9]|\\d\\d)\\//.test(document.querySelector('#train-progress').innerText)",
                           timeout=120000)
    page.locator("#train-stop").click()
    stopping = page.locator("#train-stopping")
    stopping.wait_for()
    assert re.search(r"Stopping: (waiting for batch \d+/\d+ to finish|writing last\.pt)", stopping.inner_text())
    assert "yld-stopping" in stopping.get_attribute("class")
    assert page.locator("#train-message .yld-error").count() == 0  # not in red error style
    shot(page, "15-train-stopping")
    page.wait_for_selector('#train-progress[data-state="stopped"]', timeout=120000)
    page.wait_for_function("() => !document.querySelector('#train-stopping')")  # cleared once stopped
    text = page.locator("#train-progress").inner_text()
    assert re.search(r"stopped during epoch 1 \(batch \d+/\d+\)", text) and "0 complete epochs" in text
    assert "not validated" in text and "last mAP50" not in text
    assert page.locator("#train-progress").get_attribute("data-epochs") == "0"
    assert "no validated epoch yet" in page.locator("#map-plot").inner_text()
    shot(page, "15-train-stopped")

    # the run lists follow without Refresh: this one, named by design, date and how it ended
    page.wait_for_function("() => document.querySelector('#train-best').innerText.includes('last.pt')")
    runs = options(page, "Earlier runs", shot, "15-train-runs-list")
    mine = [r for r in runs if "stopped during epoch 1 (batch" in r]
    assert mine and re.match(r"\S+ · \d{4}-\d\d-\d\d \d\d:\d\d · 0 epochs · stopped during", mine[0]), runs
    assert not any("/" in r.split(" · ")[0] for r in runs)  # names, not raw paths

    # a reloaded page lists it (on load), and so does the Test tab, with its last.pt
    page.goto(app_url)
    page.wait_for_selector("#summary #stat-params")
    page.get_by_role("tab", name="Train").click()
    assert any("stopped during epoch 1" in r for r in options_once(page, "Earlier runs", "stopped during epoch 1"))
    page.get_by_role("tab", name="Test").click()
    models = options_once(page, "Model", "stopped during epoch 1")
    assert any("stopped during epoch 1" in m and m.endswith("last.pt") for m in models), models
    options(page, "Model", shot, "15-test-model-list")


def test_test_tab_size_check_and_latency_spread(page, shot, tmp_path):
    img = Image.new("RGB", (320, 240), (90, 140, 200))
    ImageDraw.Draw(img).rectangle((60, 50, 200, 180), fill=(240, 200, 40))
    img.save(tmp_path / "scene.png")
    page.get_by_role("tab", name="Test").click()
    page.locator("#test-images input[type=file]").set_input_files(str(tmp_path / "scene.png"))
    page.get_by_label("Inference size").fill("300")
    page.wait_for_function("() => document.querySelector('#test-size').innerText.includes('300')")
    page.locator("#detect").click()
    page.wait_for_function("() => document.querySelector('#test-message').innerText.includes('Inference size')")
    assert page.locator(TOAST).count() == 0
    page.get_by_label("Inference size").fill("64")
    page.wait_for_function("() => !document.querySelector('#test-size').innerText.trim()")
    page.locator("#detect").click()
    page.wait_for_selector("#latency", timeout=120000)
    head = page.locator("#latency tr").first.inner_text()
    assert "threads" in head and "median" in head and "p10–p90" in head
    for backend in ("torch", "onnx"):
        cells = page.locator(f'#latency tr[data-backend="{backend}"] td').all_inner_texts()
        assert int(cells[1]) >= 1 and re.fullmatch(r"\d+\.\d–\d+\.\d", cells[6]), cells
    assert "Median of 10 runs" in page.locator("#latency").inner_text()
    page.locator("#latency").scroll_into_view_if_needed()
    shot(page, "15-test-latency")


def test_export_pack_keeps_the_onnx_check(page, shot):
    page.get_by_role("tab", name="Export").click()
    page.get_by_label("Export image size").fill("100")
    page.wait_for_function("() => document.querySelector('#export-size').innerText.includes('100')")
    page.get_by_label("Export image size").fill("64")
    page.wait_for_function("() => !document.querySelector('#export-size').innerText.trim()")
    page.locator("#export-onnx").click()
    page.wait_for_selector("#export-check", timeout=120000)
    page.locator("#export-pack").click()
    page.wait_for_selector("#pack-result", timeout=60000)
    assert page.locator("#export-check").inner_text() == "passed"  # the pack did not wipe the ONNX panel
    assert "onnxruntime matches PyTorch" in page.locator("#export-status").inner_text()
    assert "yolo_lite_blocks.py" in page.locator("#pack-result").inner_text()
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "15-export-both")
