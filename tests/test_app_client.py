"""The page's work scripted through gradio_client against the app launched in the test."""
import pytest

from graph.counts import count
from graph.resolve import resolve
from graph.spec import parse_file
from graph.templates import preset_path, presets


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.mark.parametrize("name", [n for n, p in presets().items() if p["picks"]])
def test_compose_every_preset_with_picks(client, name):
    k = presets()[name]["picks"]
    out = client.predict(k["backbone"], k["neck"], k["head"], k["scale"], 80, 640, api_name="/compose")
    assert out["ok"], out
    assert out["params"] == count(resolve(parse_file(preset_path(name))[0])).params


@pytest.mark.parametrize("name", list(presets()))
def test_info_from_yaml_text_of_every_preset(client, name):
    text = open(preset_path(name)).read()
    out = client.predict(text, 640, api_name="/info")
    assert out["ok"] and out["params"] == count(resolve(parse_file(preset_path(name))[0])).params


def test_bad_yaml_returns_an_error_not_an_exception(client):
    out = client.predict("nc: 80\nbackbone: [[-1, 1, Nope, [1]]]\nhead: []\n", 640, api_name="/info")
    assert out["ok"] is False and out["layer"] == 0 and "Nope" in out["error"]
    out = client.predict("shufflenetv2", "nowhere", "yolov5", "s", 80, 640, api_name="/compose")
    assert out["ok"] is False and "unknown neck" in out["error"]
    out = client.predict("nc: 80\n", "big", api_name="/info")
    assert out["ok"] is False and "image size" in out["error"]
    # and the server still answers
    assert client.predict("yolov8", "yolov8-pan", "yolov8", "n", 80, 640, api_name="/compose")["params"] == 3157200


def test_edit_endpoint_applies_a_recipe_and_refuses_a_bad_edit(client):
    text = open(preset_path("yolov8n")).read()
    out = client.predict(text, [["recipe", "ghost"]], 640, api_name="/edit")
    assert out["ok"] and out["params"] == 2502908 and out["before"]["params"] == 3157200
    assert "GhostConv" in out["yaml"] and "C2fGhost" in out["yaml"]
    assert any("recipe ghost" in n for n in out["notes"])
    again = client.predict(out["yaml"], 640, api_name="/info")  # the edited yaml reads back the same
    assert again["ok"] and again["params"] == 2502908
    out = client.predict(text, [["section", "neck"], ["swap", "Conv=GSConv"]], 640, api_name="/edit")
    assert out["ok"] and out["params"] < 3157200
    bad = client.predict(text, [["delete", "4"]], 640, api_name="/edit")
    assert bad["ok"] is False and "cannot delete" in bad["error"] and bad["layer"] == 4
    bad = client.predict(text, [["frobnicate", "x"]], 640, api_name="/edit")
    assert bad["ok"] is False and bad["error"]
