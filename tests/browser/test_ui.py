"""The Airflow UI of `make airflow`, driven by headless Chromium like a user would.

Starts `python -m dev.airflow_local` on its own stack (.stack/browser, created fresh), then:
logs in, finds the campaign DAGs, opens a campaign's trigger form and checks its Params,
triggers a dry run, waits for it to succeed, clicks its Campaign report link and reads a figure
from the report the browser shows, and opens the Campaigns page.

Playwright drives Debian's Chromium (`executable_path`); no browser is ever downloaded. Elements
are found as a user finds them: by role and accessible name. Screenshots go to
.stack/browser-screenshots/; `make screenshots` (CAMPAIGN_UI_SCREENSHOTS=docs) writes them to
docs/screenshots/ instead. Skips when no Chromium can be found (`.ci/run` installs Debian's).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page, ViewportSize

ROOT = Path(__file__).resolve().parents[2]
STACK_DIR = ROOT / ".stack" / "browser"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
SCREENSHOTS = (
    DOCS_SCREENSHOTS
    if os.environ.get("CAMPAIGN_UI_SCREENSHOTS") == "docs"
    else (ROOT / ".stack" / "browser-screenshots")
)
DAG_ID = "campaign_demo_outbound"
PARAM_FIELDS = {"dry_run": "Dry run", "max_contacts": "Max contacts", "dispatch": "Dispatch", "notify": "Notify"}
# The seeded demo dials for one minute, so its scheduled run (which a manual run queues behind:
# max_active_runs=1) is over soon.
DEMO_MINUTES = "1"
START_TIMEOUT_S = 240
RUN_TIMEOUT_S = 240
STEP_TIMEOUT_MS = 60_000
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--hide-scrollbars",
    "--mute-audio",
]


def find_browser() -> str | None:
    """CHROMIUM_PATH, else the first Chromium or Chrome on PATH."""
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


BROWSER = find_browser()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        BROWSER is None,
        reason="no Chromium found: install Debian's `chromium` package "
        "(`.ci/run` does), or set CHROMIUM_PATH to a Chromium/Chrome binary",
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _child_env(port: int, password: str) -> dict[str, str]:
    """The test session exported the test stack's settings; the UI's stack must not see them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "_AIRFLOW", "CAMPAIGN_"))}
    env.update(
        CAMPAIGN_STACK_DIR=str(STACK_DIR),
        AIRFLOW_LOCAL_PORT=str(port),
        AIRFLOW_LOCAL_PASSWORD=password,
        DEMO_MINUTES=DEMO_MINUTES,
        PYTHONUNBUFFERED="1",
    )
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
        subprocess.run(
            [sys.executable, "-m", "dev.stack", "stop"],
            cwd=ROOT,
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
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
        """Starts `make airflow`'s process; once more on a new port if another stack took the port
        between its choice and the api-server's bind (the suite runs two sessions at once)."""
        self._start()
        if self.proc is not None and self.proc.poll() is not None and "served by another process" in self.log():
            self.port = _free_port()
            self.base = f"http://127.0.0.1:{self.port}"
            self.env = _child_env(self.port, self.password)
            self._start()
        self._check_started()

    def _start(self) -> None:
        _stop_leftovers(self.env)
        self.output.parent.mkdir(parents=True, exist_ok=True)
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dev.airflow_local"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while "Airflow is up" not in self.log() and self.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(1)

    def _check_started(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic()
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
        subprocess.run(
            [sys.executable, "-m", "dev.stack", "stop"],
            cwd=ROOT,
            env=self.env,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return left

    # The REST API, for what a user would watch in the UI ---------------------------------

    def api(self, path: str, *, method: str = "GET", body: dict | None = None):
        from dev.airflow_local import _request, token

        status, reply = _request(
            f"{self.base}/api/v2{path}", method=method, body=body, token=token(self.base, self.password)
        )
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
def page():
    # Playwright never fetches a browser of its own here: it drives the Chromium found above.
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=BROWSER, args=LAUNCH_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(STEP_TIMEOUT_MS)
            yield context.new_page()
        finally:
            browser.close()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png")


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


def test_campaign_ui(airflow: AirflowLocal, page: Page):
    from playwright.sync_api import Error as PlaywrightError

    try:
        _walk_through(airflow, page, airflow.base)
    except (PlaywrightError, AssertionError):
        try:
            shot(page, "failure")
        except PlaywrightError:
            pass
        raise


def _walk_through(airflow: AirflowLocal, page: Page, base: str) -> None:
    from playwright.sync_api import expect

    # Every step waits as long as a user would for the page to show what it should.
    expect.set_options(timeout=STEP_TIMEOUT_MS)
    # Log in ------------------------------------------------------------------------------
    page.goto(f"{base}/")
    username = page.get_by_role("textbox", name="Username")
    expect(username).to_be_visible()
    username.fill("admin")
    page.get_by_label("Password").fill(airflow.password)
    shot(page, "01-login")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: not urllib.parse.urlparse(url).path.startswith("/auth"))

    # The campaign DAGs ---------------------------------------------------------------------
    page.goto(f"{base}/dags?tags=outbound")
    expect(page.get_by_role("link", name=DAG_ID, exact=True)).to_be_visible()
    hrefs = page.get_by_role("link").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    ids = [m.group(1) for href in hrefs if href and (m := re.fullmatch(r"/dags/([^/?#]+)", href))]
    assert DAG_ID in ids and all(dag_id.startswith("campaign_") for dag_id in ids), ids
    shot(page, "02-campaign-dags")

    # The trigger form and its Params ------------------------------------------------------------
    page.goto(f"{base}/dags/{DAG_ID}")
    page.get_by_role("button", name="Trigger Dag").click()
    form = page.get_by_role("dialog")
    expect(form.get_by_role("button", name="Trigger", exact=True)).to_be_visible()
    # The Params' inputs carry their names; the Dry run switch is a styled control over its input.
    dry_run = form.locator("input[name=element_dry_run]")
    for name, title in PARAM_FIELDS.items():
        expect(form.locator(f"[name=element_{name}]"), f"no {name} field in the trigger form").to_have_count(1)
        expect(form, f"no {title!r} label in the trigger form").to_contain_text(title)
    expect(dry_run).not_to_be_checked()
    form.locator("[id='switch:element_dry_run']").click()
    expect(dry_run, "dry run on").to_be_checked()
    shot(page, "03-trigger-form")

    # A dry run ----------------------------------------------------------------------------
    form.get_by_role("button", name="Trigger", exact=True).click()
    page.wait_for_url(re.compile(r"/runs/[^/]+"))
    run_id = urllib.parse.unquote(re.search(r"/runs/([^/?#]+)", page.url).group(1))
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
    page.goto(f"{base}/dags/{DAG_ID}/runs/{run_id}/tasks/notify/details")
    expect(page.get_by_text("Duration").first).to_be_visible()
    expect(page.locator("body")).to_contain_text("notify")
    time.sleep(2)  # the links request is a separate fetch
    expect(page.get_by_text("Extra Links")).to_have_count(0)
    page.goto(f"{base}/dags/{DAG_ID}/runs/{run_id}/tasks/generate_report/details")
    report_link = page.get_by_role("link", name="Campaign report")
    expect(report_link).to_be_visible()
    expect(page.get_by_text("Extra Links").first).to_be_visible()
    shot(page, "06-report-link")
    with page.context.expect_page() as opened:
        report_link.click()
    report_page = opened.value
    report_page.set_viewport_size(VIEWPORT)
    contacts = report_page.locator("[data-kpi=contacts]")  # the report's own markup names its figures
    expect(contacts, "the report rendered in the browser (not downloaded)").to_be_visible()
    assert report_page.evaluate("document.contentType") == "text/html"
    assert int(contacts.inner_text().replace(",", "")) == report["contacts"], (contacts.inner_text(), report)
    assert report_page.locator("svg").count() > 0
    assert "DRY_RUN" in report_page.locator("body").inner_text().upper()
    shot(report_page, "07-report")
    report_page.close()

    page.goto(f"{base}/dags/{DAG_ID}/runs/{run_id}")
    expect(page.locator("body"), "the run shown as a success").to_contain_text(
        re.compile(r"\bSuccess\b"), use_inner_text=True
    )
    expect(page.locator("body")).to_contain_text("wait_for_completion")
    shot(page, "04-dry-run-succeeded")

    # The Campaigns page -------------------------------------------------------------------------
    page.goto(f"{base}/campaigns/")
    body = page.locator("body")
    expect(body).to_contain_text("demo_outbound")
    text = body.inner_text()
    assert "Campaigns" in text and DAG_ID in text and "dry_run" in text, text[:2000]
    page.goto(f"{base}/plugin/campaigns")
    expect(page.frame_locator("iframe").locator("body"), "the Campaigns page inside the Airflow UI").to_contain_text(
        "demo_outbound"
    )
    shot(page, "05-campaigns-page")


def _run_failure(airflow: AirflowLocal, run_id: str) -> str:
    tis = airflow.api(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]
    states = {ti["task_id"]: ti["state"] for ti in tis}
    return f"the dry run {run_id} failed: {states}\n{airflow.log()[-2000:]}"
