"""The Train tab in the browser: a one-epoch run at 64 px on the built-in dataset, watched live to the
end, then its checkpoint picked in the Test tab for a result image."""
from PIL import Image


def test_train_one_epoch_then_test_its_checkpoint(page, shot, tmp_path):
    page.get_by_role("tab", name="Train").click()
    page.wait_for_selector("#train-design")
    assert "parameters" in page.locator("#train-design").inner_text()
    page.get_by_label("Epochs").fill("1")
    page.get_by_label("Train image size").fill("64")
    page.locator("#train-start").click()
    page.wait_for_selector('#train-progress[data-state="running"]', timeout=60000)
    page.wait_for_function("() => document.querySelector('#train-progress').innerText.includes('batch')",
                           timeout=120000)
    shot(page, "09-training")
    page.wait_for_selector('#train-progress[data-state="finished"]', timeout=600000)
    assert page.locator("#loss-chart path[data-series]").count() == 3  # box, cls, dfl
    assert "mAP50" in page.locator("#train-progress").inner_text()
    assert page.locator("#train-best a, #train-best [download]").count() >= 1 or "best.pt" in page.locator(
        "#train-best").inner_text()
    shot(page, "10-trained")

    # the new checkpoint is in the Test tab's model list
    page.get_by_role("tab", name="Test").click()
    page.get_by_label("Model", exact=True).click()
    option = page.get_by_role("option").filter(has_text="best.pt").first
    option.click()
    img = tmp_path / "shapes.png"
    Image.new("RGB", (256, 256), (40, 40, 40)).save(img)
    page.locator("#test-images input[type=file]").set_input_files(str(img))
    page.locator("#detect").click()
    page.wait_for_selector("#latency", timeout=120000)
    assert "Untrained" not in page.locator("#latency").inner_text()
    page.locator("#test-gallery img").first.wait_for()
    shot(page, "11-trained-model-test")
