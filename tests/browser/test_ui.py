"""The Airflow UI of `make airflow`, driven by headless Chromium like a user would.

Starts `python -m dev.airflow_local` on its own stack (.stack/browser, created fresh), then:
logs in, finds the campaign DAGs, opens a campaign's trigger form and checks its Params,
triggers a dry run, waits for it to succeed, clicks its Campaign report link and reads a figure
from the report the browser shows, and opens the Campaigns page. Screenshots go
to docs/screenshots/. Skips when no Chromium can be found (`.ci/run` installs Debian's).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.browser.cdp import Browser, BrowserError, find_browser

ROOT = Path(__file__).resolve().parents[2]
STACK_DIR = ROOT / ".stack" / "browser"
SCREENSHOTS = ROOT / "docs" / "screenshots"
DAG_ID = "campaign_demo_outbound"
PARAM_FIELDS = {"dry_run": "Dry run", "max_contacts": "Max contacts", "dispatch": "Dispatch", "notify": "Notify"}
# The seeded demo dials for one minute, so its scheduled run (which a manual run queues behind:
# max_active_runs=1) is over soon.
DEMO_MINUTES = "1"
START_TIMEOUT_S = 240
RUN_TIMEOUT_S = 240

BROWSER = find_browser()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(600),
    pytest.mark.skipif(BROWSER is None, reason="no Chromium found: install Debian's `chromium` package "
                                               "(`.ci/run` does), or set CHROMIUM_PATH to a Chromium/Chrome binary"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _child_env(port: int, password: str) -> dict[str, str]:
    """The test session exported the test stack's settings; the UI's stack must not see them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "_AIRFLOW", "CAMPAIGN_"))}
    env.update(CAMPAIGN_STACK_DIR=str(STACK_DIR), AIRFLOW_LOCAL_PORT=str(port), AIRFLOW_LOCAL_PASSWORD=password,
               DEMO_MINUTES=DEMO_MINUTES, PYTHONUNBUFFERED="1")
    return env


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop_leftovers(env: dict[str, str]) -> None:
    """A killed earlier run may have left its processes and services: stop them, then start clean."""
    state = STACK_DIR / "airflow-local" / "state.json"
    if state.exists():
        try:
            pids = json.loads(state.read_text()).get("children", {}).values()
        except ValueError:
            pids = []
        for pid in pids:
            _killpg(pid, signal.SIGKILL)
    if STACK_DIR.exists():
        subprocess.run([sys.executable, "-m", "dev.stack", "stop"], cwd=ROOT, env=env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(STACK_DIR, ignore_errors=True)


class AirflowLocal:
    def __init__(self):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        self.env = _child_env(self.port, self.password)
        self.output = ROOT / ".stack" / "browser-airflow-local.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        _stop_leftovers(self.env)
        self.output.parent.mkdir(parents=True, exist_ok=True)
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "dev.airflow_local"], cwd=ROOT, env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while "Airflow is up" not in self.log():
            if self.proc.poll() is not None:
                pytest.fail(f"`python -m dev.airflow_local` exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"Airflow was not up within {START_TIMEOUT_S} s:\n{self.log()[-4000:]}")
            time.sleep(1)

    def log(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    def stop(self) -> list[str]:
        """Ctrl-C's path: SIGTERM to dev.airflow_local, which stops its children; then the services.
        Returns the Airflow processes that outlived dev.airflow_local (there should be none)."""
        children = {}
        state = STACK_DIR / "airflow-local" / "state.json"
        if state.exists():
            children = json.loads(state.read_text()).get("children", {})
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                _killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        left = _airflow_processes()
        for pid in children.values():  # only if dev.airflow_local could not stop them itself
            _killpg(pid, signal.SIGKILL)
        subprocess.run([sys.executable, "-m", "dev.stack", "stop"], cwd=ROOT, env=self.env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return left

    # The REST API, for what a user would watch in the UI ---------------------------------

    def api(self, path: str, *, method: str = "GET", body: dict | None = None):
        from dev.airflow_local import _request, token

        status, reply = _request(f"{self.base}/api/v2{path}", method=method, body=body,
                                 token=token(self.base, self.password))
        assert status == 200, f"{method} {path}: HTTP {status} {reply}"
        return reply


@pytest.fixture(scope="module")
def airflow():
    local = AirflowLocal()
    left: list[str] = []
    try:
        local.start()
        yield local
    finally:
        left = local.stop()
    log = local.log()
    assert local.proc.returncode == 0 and "Stopped." in log, f"dev.airflow_local did not stop cleanly:\n{log[-3000:]}"
    assert not left, f"processes outlived dev.airflow_local: {left}"


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("websockets", reason="the browser driver needs the websockets package")
    with Browser(BROWSER) as b:
        yield b


def shot(browser: Browser, name: str) -> None:
    browser.screenshot(SCREENSHOTS / f"{name}.png")


def _airflow_processes() -> list[str]:
    """Airflow components, task processes and the dialer simulator of the browser stack."""
    import psutil

    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if p.environ().get("CAMPAIGN_STACK_DIR") != str(STACK_DIR):
                continue
        except psutil.Error:
            continue
        cmdline = " ".join(p.info["cmdline"] or [])
        if cmdline.startswith("postgres"):  # the stack's own database backends
            continue
        if "airflow" in cmdline or "dialer_simulator" in cmdline:
            found.append(f"{p.info['pid']}: {cmdline[:200]}")
    return found


def test_campaign_ui(airflow: AirflowLocal, browser: Browser):
    base = airflow.base
    try:
        _walk_through(airflow, browser, base)
    except (BrowserError, AssertionError):
        try:
            shot(browser, "failure")
        except BrowserError:
            pass
        raise


def _walk_through(airflow: AirflowLocal, b: Browser, base: str) -> None:
    # Log in ------------------------------------------------------------------------------
    b.goto(f"{base}/")
    b.wait_for("document.querySelector('input[name=username]')", timeout=60, what="the login form")
    b.focus_and_type("input[name=username]", "admin")
    b.focus_and_type("input[name=password]", airflow.password)
    shot(b, "01-login")
    b.click("document.querySelector('button[type=submit]')", "Sign in")
    b.wait_for("!location.pathname.startsWith('/auth')", timeout=30, what="the redirect after logging in")

    # The campaign DAGs ---------------------------------------------------------------------
    b.goto(f"{base}/dags?tags=outbound")
    links = b.wait_for(f"""(() => {{
        const ids = Array.from(document.querySelectorAll('a[href]'))
            .map(a => a.getAttribute('href').match(/^\\/dags\\/([^/?#]+)$/)).filter(Boolean).map(m => m[1]);
        return ids.includes({json.dumps(DAG_ID)}) ? ids : null; }})()""", timeout=60, what="the campaign DAG list")
    assert links and all(dag_id.startswith("campaign_") for dag_id in links), links
    shot(b, "02-campaign-dags")

    # The trigger form and its Params ------------------------------------------------------------
    b.goto(f"{base}/dags/{DAG_ID}")
    trigger_button = "document.querySelector('button[aria-label=\"Trigger Dag\"]')"
    b.wait_for(trigger_button, timeout=30, what="the Trigger button")
    b.click(trigger_button, "Trigger")
    b.wait_for("document.querySelector('input[name=element_dry_run]')", timeout=30, what="the Params form")
    form_text = b.eval("Array.from(document.querySelectorAll('[role=dialog]')).map(d => d.innerText).join('\\n')")
    for name, title in PARAM_FIELDS.items():
        assert b.eval(f"!!document.querySelector('[name=element_{name}]')"), f"no {name} field in the trigger form"
        assert title in form_text, f"no {title!r} label in the trigger form"
    assert b.eval("document.querySelector('input[name=element_dry_run]').checked") is False
    b.click("document.getElementById('switch:element_dry_run')", "the Dry run switch")
    b.wait_for("document.querySelector('input[name=element_dry_run]').checked", timeout=5, what="dry run on")
    shot(b, "03-trigger-form")

    # A dry run ----------------------------------------------------------------------------
    b.click("Array.from(document.querySelectorAll('[role=dialog] button'))"
            ".find(x => x.innerText.trim() === 'Trigger')", "the form's Trigger button")
    run_id = b.wait_for("(location.pathname.match(/\\/runs\\/([^/]+)/) || [])[1]", timeout=30,
                        what="the new run's page")
    run_id = urllib.parse.unquote(run_id)
    run = airflow.api(f"/dags/{DAG_ID}/dagRuns/{run_id}")
    assert run["run_type"] == "manual"
    assert run["conf"]["dry_run"] is True, run["conf"]

    deadline = time.monotonic() + RUN_TIMEOUT_S
    while run["state"] not in ("success", "failed"):
        assert time.monotonic() < deadline, f"the dry run was still {run['state']} after {RUN_TIMEOUT_S} s"
        time.sleep(3)
        run = airflow.api(f"/dags/{DAG_ID}/dagRuns/{run_id}")
    assert run["state"] == "success", _run_failure(airflow, run_id)
    summary = airflow.api(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/generate_report/xcomEntries/return_value")
    report = summary["value"]
    assert report["outcome"] == "dry_run" and report["dispatched"] == 0, report
    # The "Campaign report" link: on generate_report alone (no other task gets an empty "Extra
    # Links" heading), and a click opens this run's report as a page in a new tab.
    for task_id in ("validate_campaign", "wait_for_completion", "notify"):
        assert airflow.api(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/links")["extra_links"] == {}
    b.goto(f"{base}/dags/{DAG_ID}/runs/{run_id}/tasks/notify/details")
    b.wait_for("document.body.innerText.includes('notify') && document.body.innerText.includes('Duration')",
               timeout=30, what="notify's details")
    time.sleep(2)  # the links request is a separate fetch
    assert "Extra Links" not in b.text()
    b.goto(f"{base}/dags/{DAG_ID}/runs/{run_id}/tasks/generate_report/details")
    report_link = ("Array.from(document.querySelectorAll('a[href]'))"
                   ".find(a => a.innerText.trim() === 'Campaign report')")
    b.wait_for(report_link, timeout=60, what="the Campaign report link")
    assert "Extra Links" in b.text()
    shot(b, "06-report-link")
    b.click_into_new_tab(report_link, "the Campaign report link")
    shown = b.wait_for("(document.querySelector('[data-kpi=contacts]') || {}).innerText", timeout=30,
                       what="the report rendered in the browser (not downloaded)")
    assert b.eval("document.contentType") == "text/html"
    assert int(shown.replace(",", "")) == report["contacts"], (shown, report)
    assert b.eval("document.querySelectorAll('svg').length") > 0 and "DRY_RUN" in b.text().upper()
    shot(b, "07-report")

    b.goto(f"{base}/dags/{DAG_ID}/runs/{run_id}")
    b.wait_for("/\\bSuccess\\b/.test(document.body.innerText) && "
               "document.body.innerText.includes('wait_for_completion')", timeout=30, what="the run shown as a success")
    shot(b, "04-dry-run-succeeded")

    # The Campaigns page -------------------------------------------------------------------------
    b.goto(f"{base}/campaigns/")
    page = b.wait_for("document.body.innerText.includes('demo_outbound') && document.body.innerText", timeout=30,
                      what="the Campaigns page")
    assert "Campaigns" in page and DAG_ID in page and "dry_run" in page, page[:2000]
    b.goto(f"{base}/plugin/campaigns")
    b.wait_for("(() => { const f = document.querySelector('iframe');"
               " return f && f.contentDocument && f.contentDocument.body"
               " && f.contentDocument.body.innerText.includes('demo_outbound'); })()",
               timeout=30, what="the Campaigns page inside the Airflow UI")
    shot(b, "05-campaigns-page")


def _run_failure(airflow: AirflowLocal, run_id: str) -> str:
    tis = airflow.api(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]
    states = {ti["task_id"]: ti["state"] for ti in tis}
    return f"the dry run {run_id} failed: {states}\n{airflow.log()[-2000:]}"
