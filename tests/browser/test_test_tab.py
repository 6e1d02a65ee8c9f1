"""The Test tab: drop an image in, run the current (untrained) design, see the result and latency."""
from PIL import Image, ImageDraw


def test_detect_on_an_uploaded_image(page, shot, tmp_path):
    img = Image.new("RGB", (480, 320), (90, 140, 200))
    ImageDraw.Draw(img).rectangle((100, 80, 260, 240), fill=(240, 200, 40))
    path = tmp_path / "scene.png"
    img.save(path)
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    page.get_by_role("tab", name="Test").click()
    page.locator("#test-images input[type=file]").set_input_files([str(path), str(bad)])
    page.get_by_label("Inference size").fill("320")
    page.get_by_role("spinbutton", name="number input for Confidence").fill("0")
    page.keyboard.press("Tab")
    page.locator("#detect").click()
    page.wait_for_selector("#latency", timeout=120000)
    text = page.locator("#latency").inner_text()
    assert "PyTorch" in text and "onnxruntime" in text and "Untrained design" in text
    assert "threads" in text and "p10–p90" in text  # a median and its spread, and the threads used
    assert "notes.jpg: not an image" in page.locator("#test-message").inner_text()
    page.locator("#test-gallery img").first.wait_for()
    shot(page, "08-test-tab")
