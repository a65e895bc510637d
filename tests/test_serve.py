"""`cnmlab serve`: the terminal app in a real browser (headless Chromium through Selenium).

The app draws into xterm.js's canvas, so the test reads what the page shows from xterm's screen
buffer (found on the page's heap through the DevTools protocol), and keeps a screenshot.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from test_notebook_browser import ARTIFACTS, browser, free_port, wait_listening  # noqa: F401  (browser: a fixture)

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

# Every object on the page's heap, then the one that holds an xterm Terminal: its visible rows.
SCREEN_TEXT = """function() {
  const holder = this.find(o => o && o.terminal && o.terminal.buffer && o.terminal.buffer.active);
  if (!holder) return null;
  const term = holder.terminal, buf = term.buffer.active, rows = [];
  for (let i = 0; i < term.rows; i++) rows.push(buf.getLine(buf.viewportY + i).translateToString(true));
  return rows.join('\\n');
}"""


def screen_text(driver) -> str:
    group = {"objectGroup": "cnmlab-screen"}
    proto = driver.execute_cdp_cmd("Runtime.evaluate", {"expression": "Object.prototype", **group})
    heap = driver.execute_cdp_cmd("Runtime.queryObjects", {"prototypeObjectId": proto["result"]["objectId"], **group})
    try:
        answer = driver.execute_cdp_cmd("Runtime.callFunctionOn", {
            "objectId": heap["objects"]["objectId"], "functionDeclaration": SCREEN_TEXT, "returnByValue": True})
        return answer["result"].get("value") or ""
    finally:
        driver.execute_cdp_cmd("Runtime.releaseObjectGroup", group)


def wait_screen(driver, predicate, timeout: float = 90) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    found = {}

    def shown(d):
        found["text"] = screen_text(d)
        return predicate(found["text"])

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.5).until(shown)
    except Exception:
        raise AssertionError("the page never showed what was expected; it showed:\n" + found.get("text", "")) from None
    return found["text"]


def app_processes(server_pid: int) -> list[int]:
    """The `cnmlab tui` processes the server started (one per browser session)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    rows = [line.split(None, 2) for line in out.splitlines()]
    children = {int(pid) for pid, ppid, _ in rows if int(ppid) == server_pid}
    family = children | {int(pid) for pid, ppid, _ in rows if int(ppid) in children}  # the shell's child
    return sorted(int(pid) for pid, _, args in rows if int(pid) in family and "-m cnmlab tui" in args
                  and not args.startswith("/bin/sh"))


@pytest.fixture
def served(lab, tmp_path):
    lab.network_create("net-web", subnet="10.64.0.0/24")
    lab.run("web1", network="net-web")
    lab.run("web2", network="net-web")
    port = free_port()
    with open(tmp_path / "serve.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cnmlab", "serve", "--port", str(port)], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert wait_listening(port, proc), (tmp_path / "serve.log").read_text()
        yield proc, f"http://127.0.0.1:{port}/"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_app_in_a_browser_shows_the_lab_and_takes_keys(served, browser, lab):
    from selenium.webdriver.common.by import By

    proc, url = served
    browser.get(url)
    home = wait_screen(browser, lambda t: "web2" in t and "net-web" in t)
    assert "topology" in home and "10.64.0.0/24" in home and "web1" in home
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "serve-topology.png"))

    browser.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys("p")
    # xterm.js may be read between two parts of the redraw: wait for the whole probe screen
    wait_screen(browser, lambda t: "press s to send" in t and "topology" not in t, timeout=30)
    browser.save_screenshot(str(ARTIFACTS / "serve-probe.png"))

    # a second tab is a second app process, on the same engine: it shows what the first one built
    browser.switch_to.new_window("tab")
    browser.get(url)
    wait_screen(browser, lambda t: "web2" in t)
    assert len(app_processes(proc.pid)) == 2
    lab.run("web3", network="net-web")  # from another client, as from a terminal
    wait_screen(browser, lambda t: "web3" in t)


def test_serving_beyond_this_machine_needs_public(cli):
    refused = cli("serve", "--host", "0.0.0.0", "--port", "1")
    assert refused.returncode == 1
    assert refused.stderr.strip() == ("Error: refusing to serve on 0.0.0.0, which other machines can reach: "
                                      "the lab can run shells; add --public to do it anyway")
    assert cli("serve", "--port", "70000").stderr.strip() == "Error: invalid port 70000: must be 1-65535"


def test_public_warns_then_says_why_it_cannot_listen(cli):
    """192.0.2.1 (TEST-NET-1) is no address of this machine: the warning, then a one-line error."""
    result = cli("serve", "--host", "192.0.2.1", "--public", "--port", "8765")
    assert result.returncode == 1
    warning, error = result.stderr.strip().splitlines()
    assert warning.startswith("Warning: serving on 192.0.2.1:8765 to the network: anyone who reaches this port")
    assert error == "Error: cannot listen on 192.0.2.1:8765: Cannot assign requested address"
