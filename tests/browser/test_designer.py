"""The designer page in a real browser: default numbers, pick a backbone, download the yaml, break
and fix the yaml. Screenshots of every step are written to test-artifacts/browser/."""
import json

from graph.templates import preset_path

from .helpers import info_params, launch, params_on_page, pick, wait_params_change


def test_designer_walkthrough(page, shot, tmp_path):
    # 1. the page opens with a design already composed, counted and drawn
    default = params_on_page(page)
    assert default == json.loads(launch("info", "yolov8n", "--json"))["params"] == 3157200
    assert page.locator("#graph svg .node").count() == 23
    shot(page, "01-opened")

    # 2. pick another backbone: the count becomes exactly what launch.py info says
    pick(page, "Backbone", "ghostnet")
    now = wait_params_change(page, default)
    picks = ["--backbone", "ghostnet", "--neck", "yolov8-pan", "--head", "yolov8", "--scale", "n", "--nc", "80"]
    assert now == info_params(*picks, tmp=str(tmp_path))
    assert page.locator('#graph svg .node[data-module="C2fGhost"]').count() == 4
    shot(page, "02-ghostnet-backbone")

    # 3. the downloaded yaml is what launch.py compose writes for the same picks
    with page.expect_download() as dl:
        page.locator("#download-yaml").click()
    got = dl.value
    assert got.suggested_filename == "ghostnet-yolov8-pan-yolov8-n.yaml"
    assert open(got.path()).read() == launch("compose", *picks)

    # 4. break the yaml: the error names the layer, the numbers and graph stay
    editor = page.locator("#yaml .cm-content")
    editor.click()
    page.keyboard.press("Control+Home")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Home")
    page.keyboard.press("Shift+End")
    page.keyboard.type("nc: eighty")
    page.wait_for_function("() => document.querySelector('#yaml-error').innerText.includes('nc')")
    assert "whole number of classes" in page.locator("#yaml-error").inner_text()
    assert params_on_page(page) == now
    assert page.locator("#graph svg .node").count() == 23
    assert "nc: eighty" in editor.inner_text()  # what the user typed is kept
    shot(page, "03-broken-yaml")

    # 5. fix it: the numbers follow the yaml
    page.keyboard.press("Home")
    page.keyboard.press("Shift+End")
    page.keyboard.type("nc: 3")
    fixed = wait_params_change(page, now)
    assert fixed == info_params(*picks[:-1], "3", tmp=str(tmp_path))
    assert page.locator("#yaml-error").inner_text().strip() == ""
    shot(page, "04-fixed-yaml")


def test_preset_sets_pickers_and_compare(page, shot):
    before = params_on_page(page)
    pick(page, "Preset", "yolov5-shufflenetv2")
    after = wait_params_change(page, before)
    assert after == 787085
    assert "shufflenetv2" in page.get_by_label("Backbone", exact=True).input_value()
    assert "lite-pan" in page.get_by_label("Neck", exact=True).input_value()
    assert "vs previous design" in page.locator("#summary").inner_text()
    page.get_by_text("Compare designs").click()
    page.locator("#pin").click()
    page.wait_for_function("() => document.querySelector('#compare').innerText.includes('787085')")
    shot(page, "05-preset-and-compare")


def test_upload_yaml_loads_it_and_hover_details(page, shot, tmp_path):
    before = params_on_page(page)
    text = open(preset_path("yolov5-mobilenetv3-small")).read()
    f = tmp_path / "my-mobilenet.yaml"
    f.write_text(text)
    with page.expect_file_chooser() as chooser:
        page.locator("#upload-yaml").click()
    chooser.value.set_files(str(f))
    assert wait_params_change(page, before) == 5235267
    assert "MobileNetV3" in page.locator("#yaml .cm-content").inner_text()
    assert "12.15" in page.locator("#stat-gflops-yolo").inner_text()  # the YOLO-style figure, with why
    # every node carries its hover details
    tip = page.locator('#graph svg .node[data-index="9"]').get_attribute("data-card")
    assert "params:" in tip and "GFLOPs:" in tip and "output: 96×20×20" in tip
    with page.expect_download() as dl:
        page.locator("#download-yaml").click()
    assert dl.value.suggested_filename == "my-mobilenet.yaml"
    shot(page, "06-uploaded-yaml")


def test_compare_plots_every_pin(page, shot):
    """Issue 11: with three pins the plot drew one point (the later ones had no colour)."""
    page.get_by_text("Compare designs").click()
    page.locator("#pin").click()
    before = params_on_page(page)
    pick(page, "Backbone", "ghostnet")
    before = wait_params_change(page, before)
    page.locator("#pin").click()
    pick(page, "Preset", "yolov5-shufflenetv2")
    wait_params_change(page, before)
    page.locator("#pin").click()
    page.wait_for_function("() => document.querySelector('#compare').innerText.includes('787085')")
    page.wait_for_function("() => document.querySelectorAll('#compare-plot g.pin circle').length === 3")
    names = page.locator("#compare-plot g.pin").evaluate_all("gs => gs.map(g => g.dataset.name)")
    assert len(set(names)) == 3 and any("shufflenetv2" in n for n in names)
    spots = page.locator("#compare-plot g.pin circle").evaluate_all("cs => cs.map(c => c.getAttribute('cx') + ',' + c.getAttribute('cy'))")
    assert len(set(spots)) == 3  # three points, each where its pin's numbers put it
    assert "shufflenetv2" in page.locator("#design-origin").inner_text()
    shot(page, "13-compare-three-pins")


def test_a_picker_answers_the_keyboard(page, shot):
    """Typed and arrowed picks (Enter) recount like a click: the pickers listen to `input`, which Gradio's
    dropdown fires for both (its `select` only for the mouse)."""
    box = page.get_by_label("Backbone", exact=True)
    before = params_on_page(page)
    box.click()
    box.fill("ghost")
    page.keyboard.press("Enter")
    typed = wait_params_change(page, before)
    assert typed == 2502908 and "ghostnet" in box.input_value()
    box.click()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert wait_params_change(page, typed) != typed
    shot(page, "07-keyboard-pick")
