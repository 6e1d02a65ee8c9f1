"""The Train tab in the browser: a one-epoch run at 64 px on the built-in dataset, watched live to the
end (charts with ticks on both axes, a legend that does not overlap, per-batch points and an EMA
line; the run listed by name without Refresh), then its checkpoint picked in the Test tab."""
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
    assert page.locator("#loss-chart path[data-series]").count() == 3  # box, cls, dfl: EMA lines
    assert page.locator("#loss-chart path[data-raw]").count() == 3  # and the per-batch points, faint
    assert page.locator("#loss-chart line[data-mark]").count() == 0  # one epoch: no boundary inside
    assert "mAP50" in page.locator("#train-progress").inner_text()
    for chart in ("#loss-chart", "#map-chart"):  # ticks on both axes
        assert page.locator(f"{chart} text.xtick").count() >= 2 and page.locator(f"{chart} text.ytick").count() >= 3
    boxes = page.evaluate("""() => [...document.querySelectorAll('#map-chart .legend-item')].map(g => {
        const r = g.getBBox(); return [r.x, r.x + r.width, r.y]; })""")
    assert len(boxes) == 2 and (boxes[1][0] >= boxes[0][1] or boxes[1][2] > boxes[0][2]), boxes  # no overlap
    runs = page.get_by_label("Earlier runs", exact=True)
    runs.click()  # the finished run is listed without Refresh, by design, date, epochs, best mAP50
    label = page.get_by_role("option").first.inner_text()
    page.mouse.click(5, 5)
    assert " · 1 epoch · best mAP50 " in label and "/" not in label.split(" · ")[0], label
    assert page.locator("#train-best a, #train-best [download]").count() >= 1 or "best.pt" in page.locator(
        "#train-best").inner_text()
    shot(page, "10-trained")
    shot(page, "15-train-finished")

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
