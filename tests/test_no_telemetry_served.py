"""Nothing leaves the machine, checked without a browser: the Netron viewer we serve has its telemetry
cut out and carries a Content-Security-Policy that keeps the browser on the app's origin; Gradio's
analytics are off and the theme fetches no web fonts. (tests/browser/test_no_telemetry.py watches the
real page.)"""
import os
import subprocess
import sys

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.server import netron_routes
from engine.deploy import viewer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.skipif(viewer.netron_dir() is None, reason="netron is not installed")


@pytest.fixture
def client(tmp_path):
    store = viewer.ExportStore(str(tmp_path))
    token, folder = store.new()
    with open(os.path.join(folder, "model.onnx"), "wb") as fh:
        fh.write(b"\x08\x07")
    app = FastAPI()
    netron_routes(app, store)
    with TestClient(app) as c:
        c.token = token
        yield c


def directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        if part.strip():
            name, *values = part.split()
            out[name] = values
    return out


def test_the_policy_allows_the_app_itself_only():
    d = directives(viewer.CSP)
    assert d["default-src"] == ["'none'"]
    for name in ("script-src", "connect-src", "worker-src", "font-src", "style-src", "manifest-src"):
        assert d[name][0] == "'self'" and not any(v.startswith(("http", "*", "ws")) or "." in v for v in d[name])
    assert set(d["img-src"]) == {"'self'", "data:", "blob:"}
    assert d["frame-src"] == ["'none'"] and d["object-src"] == ["'none'"] and d["form-action"] == ["'none'"]
    assert d["frame-ancestors"] == ["'self'"]
    assert "unsafe-eval" not in viewer.CSP


def test_every_telemetry_patch_applies_to_the_installed_netron():
    for name in viewer._PATCHES:
        with open(viewer.static_file(name), encoding="utf-8") as fh:
            original = fh.read()
        patched, missed = viewer._patch(name, original)
        assert missed == [], f"netron's {name} changed: re-read it and update engine/deploy/viewer.py _PATCHES"
        assert "yolo-lite-designer" in patched and len(patched) < len(original)


def test_no_served_script_names_a_telemetry_host():
    folder = viewer.netron_dir()
    scripts = [n for n in sorted(os.listdir(folder)) if n.endswith(".js")]
    assert "browser.js" in scripts and "base.js" in scripts and len(scripts) > 50
    for name in scripts:
        text = viewer.patched_script(name)
        if text is None:
            with open(os.path.join(folder, name), encoding="utf-8") as fh:
                text = fh.read()
        assert not [h for h in viewer.TELEMETRY_HOSTS if h in text], name
        assert "sendBeacon" not in text and "G-${measurement_id}" not in text, name


def test_the_viewer_page_and_its_files_carry_the_policy(client):
    page = client.get(f"/netron/index.html?token={client.token}")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == viewer.CSP
    assert page.headers["referrer-policy"] == "no-referrer"
    assert f"models/{client.token}/model.onnx" in page.text
    assert not [h for h in viewer.TELEMETRY_HOSTS if h in page.text]

    for name in ("browser.js", "base.js"):  # patched: served from memory, revalidated
        r = client.get(f"/netron/{name}")
        assert r.status_code == 200 and r.headers["content-security-policy"] == viewer.CSP
        assert r.headers["content-type"].startswith("text/javascript")
        assert r.headers["cache-control"] == "no-cache"
        assert not [h for h in viewer.TELEMETRY_HOSTS if h in r.text]
        assert r.text == viewer.patched_script(name)
    assert "const consent = async () => {};" in client.get("/netron/browser.js").text
    assert "https://ipinfo.io" not in client.get("/netron/browser.js").text

    # the rest as they are, with the policy (a worker takes its policy from its own script's response)
    for name in ("index.js", "view.js", "worker.js", "grapher.css", "onnx-metadata.json", "icon.png"):
        r = client.get(f"/netron/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-security-policy"] == viewer.CSP, name
        with open(viewer.static_file(name), "rb") as fh:
            assert r.content == fh.read(), name

    # what is refused stays refused
    assert client.get("/netron/index.html?token=nope").status_code == 404
    assert client.get("/netron/server.py").status_code == 404


def test_gradio_analytics_are_off_before_gradio_is_imported():
    env = {k: v for k, v in os.environ.items() if k not in ("GRADIO_ANALYTICS_ENABLED", "HF_HUB_DISABLE_TELEMETRY")}
    code = ("import sys, app, os; assert 'gradio' not in sys.modules; "
            "print(os.environ['GRADIO_ANALYTICS_ENABLED'], os.environ['HF_HUB_DISABLE_TELEMETRY'])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout.split()
    assert out == ["False", "1"]


def test_the_blocks_call_no_analytics_and_the_theme_no_web_font(monkeypatch):
    import gradio as gr
    from gradio import analytics

    from app import main

    calls = []
    for name in ("version_check", "initiated_analytics", "launched_analytics", "error_analytics",
                 "integration_analytics"):
        monkeypatch.setattr(analytics, name, lambda *a, _n=name, **k: calls.append(_n))
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "True")  # even where the environment says otherwise
    captured = {}
    monkeypatch.setattr(main, "create_server", lambda demo, **kw: captured.update(kw, demo=demo))
    main.create_app()
    assert captured["demo"].analytics_enabled is False
    assert calls == []

    theme = captured["theme"]
    assert isinstance(theme, gr.themes.Base)
    assert not [s for s in theme._stylesheets if "://" in str(s)]  # a GoogleFont would add its css URL
    css = "\n".join(theme._font_css)
    assert "googleapis" not in css and "static/fonts/Montserrat" in css
