"""Playwright driving Debian's Chromium (/usr/bin/chromium; `playwright install` cannot download a
browser here). Screenshots of each step go to test-artifacts/browser/. Without Chromium they skip on a
developer's machine and fail in CI (CI=true, set by .ci/run), so a missing install cannot hide them."""
import os
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "test-artifacts", "browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        why = f"no Chromium at {CHROMIUM} (apt-get install -y chromium; .ci/run does it)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{why}: in CI the browser tests must run, not skip")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(30000)
    pg.goto(app_url)
    pg.wait_for_selector("#summary #stat-params")
    yield pg
    context.close()


@pytest.fixture
def shot():
    os.makedirs(ARTIFACTS, exist_ok=True)

    def take(page, name):
        page.screenshot(path=os.path.join(ARTIFACTS, f"{name}.png"), full_page=True)

    return take
