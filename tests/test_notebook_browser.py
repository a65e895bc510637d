"""The notebook front end in real Jupyter: the quick-start notebook run top to bottom by nbclient,
and the dashboard served by Voilà on localhost, opened in headless Chromium (Debian's package,
driven by Selenium through Debian's chromedriver), where a click on Send must show the probe's
result next to the live diagram."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1800"]


def test_quickstart_notebook_runs_top_to_bottom(lab, tmp_path, monkeypatch):
    import nbclient
    import nbformat

    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))  # connection files stay here

    nb = nbformat.read(ROOT / "labs" / "00-quickstart.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()  # raises CellExecutionError on the first failing cell (every check is an assert)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "\n".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert 'class="cnm-diagram"' in html and "cnm-matrix" in html and "cnm-trace" in html
    widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widgets, "the `lab` cell shows the dashboard widget"
    ARTIFACTS.mkdir(exist_ok=True)
    nbformat.write(nb, ARTIFACTS / "00-quickstart.executed.ipynb")


DASHBOARD_NOTEBOOK = """
from cnmlab.notebook import Lab
lab = Lab()
dashboard = lab.dashboard()
dashboard.probe_src.value = "aa"
dashboard.probe_dst.value = "bb"
dashboard.probe_proto.value = "tcp"
dashboard.probe_port.value = 80
dashboard
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 60) -> bool:
    """Until the server accepts connections (asking for a page would already start a kernel)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


@pytest.fixture
def voila(lab, tmp_path):
    import nbformat

    lab.network_create("net-a", subnet="10.63.0.0/24")
    lab.run("aa", network="net-a")
    lab.run("bb", network="net-a")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(DASHBOARD_NOTEBOOK.strip())]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "dashboard.ipynb")
    port = free_port()
    jupyter = {f"JUPYTER_{d}_DIR": str(tmp_path / f"jupyter-{d.lower()}") for d in ("CONFIG", "DATA", "RUNTIME")}
    with open(tmp_path / "voila.log", "wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, "-m", "voila", "--no-browser", f"--port={port}",
                                 "--Voila.ip=127.0.0.1", "--token=", "dashboard.ipynb"], cwd=tmp_path, stdout=log,
                                stderr=subprocess.STDOUT, env=dict(os.environ, **jupyter), start_new_session=True)
    try:
        assert wait_listening(port, proc), (tmp_path / "voila.log").read_text()
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (os.path.exists(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("Debian's chromium and chromium-driver are missing: run `bash scripts/setup.sh test` as root")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log")),
                              options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_dashboard_in_a_real_browser_probe_button_shows_the_result(voila, browser, lab):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(voila)
    wait = WebDriverWait(browser, 120)  # the first page load starts a kernel and runs the notebook
    send = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, ".cnm-probe-send")))
    sandboxes = browser.find_elements(By.CSS_SELECTOR, ".cnm-diagram-view svg g.sandbox")
    assert sorted(s.get_attribute("data-container") for s in sandboxes) == ["aa", "bb"]
    assert browser.find_elements(By.CSS_SELECTOR, ".cnm-diagram-view svg circle.endpoint")
    send.click()
    result = WebDriverWait(browser, 30).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".cnm-probe-output .cnm-probe, .cnm-probe-output .cnm-error")))
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "notebook-dashboard.png"))
    assert result.get_attribute("data-outcome") == "reachable", result.text
    assert "aa → bb" in result.text and "10.63.0." in result.text

    # a change from another client (as from a terminal) redraws the diagram in the page by itself
    lab.run("cc", network="net-a")
    WebDriverWait(browser, 30).until(lambda b: b.find_elements(
        By.CSS_SELECTOR, '.cnm-diagram-view svg g.sandbox[data-container="cc"]'))

    # the matrix tab: a heatmap cell per ordered pair
    browser.find_element(By.XPATH, "//*[contains(@class, 'lm-TabBar-tab')][contains(., 'Matrix')]").click()
    browser.find_element(By.XPATH, "//button[contains(., 'Run matrix')]").click()
    cells = WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".cnm-matrix g.cell"))
    assert len(cells) == 6 and {c.get_attribute("data-outcome") for c in cells} == {"reachable"}
    browser.save_screenshot(str(ARTIFACTS / "notebook-dashboard-matrix.png"))
