"""Small page helpers shared by the browser tests and the browser benchmark."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def params_on_page(page) -> int:
    return int(page.locator("#stat-params").get_attribute("data-value"))


def wait_params_change(page, old: int, timeout: float = 30000) -> int:
    page.wait_for_function(
        "old => { const e = document.querySelector('#stat-params');"
        " return e && e.dataset.value !== String(old); }", arg=old, timeout=timeout)
    return params_on_page(page)


def pick(page, label: str, value: str) -> None:
    """Choose `value` (the catalogue name an option starts with) in the dropdown labelled `label`."""
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option").filter(has_text=f"{value} —").first.click()


def launch(*args) -> str:
    p = subprocess.run([sys.executable, "launch.py", *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=300, check=True)
    return p.stdout


def info_params(*compose_args, tmp) -> int:
    path = os.path.join(tmp, "c.yaml")
    launch("compose", *compose_args, "-o", path)
    return json.loads(launch("info", path, "--json"))["params"]
