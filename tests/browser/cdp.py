"""A small headless-Chromium driver over the Chrome DevTools Protocol.

It needs only the `chromium` binary and the `websockets` package (already installed with
Airflow's API server), so the browser test runs offline, with no browser download and no
driver package. It does what the UI test needs: navigate, evaluate JavaScript, type, click,
wait for a condition and take screenshots.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
LAUNCH_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--no-default-browser-check", "--hide-scrollbars", "--mute-audio",
]


def find_browser() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with one page."""

    def __init__(self, executable: str, width: int = 1440, height: int = 900):
        from websockets.sync.client import connect

        self._profile = tempfile.mkdtemp(prefix="chromium-profile-")
        self.log_path = Path(self._profile + ".log")
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(
                [executable, *LAUNCH_FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-port=0",
                 f"--window-size={width},{height}", "about:blank"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self._ws = None
        self._ids = itertools.count(1)
        self._events: list[dict] = []
        try:
            self._ws = connect(self._devtools_url(), max_size=64 * 1024 * 1024, open_timeout=20)
            self._size = (width, height)
            self._attach(self._send("Target.createTarget", {"url": "about:blank"})["targetId"])
        except BaseException:
            self.close()  # never leave a browser behind
            raise

    def _attach(self, target: str) -> None:
        """Drive this page (tab) from now on."""
        self._target = target
        self._session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")
        width, height = self._size
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def _pages(self) -> set[str]:
        return {t["targetId"] for t in self._send("Target.getTargets")["targetInfos"] if t["type"] == "page"}

    def _devtools_url(self, timeout: float = 30) -> str:
        """Chromium writes its DevTools port and browser path to DevToolsActivePort when ready."""
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if port_file.exists():
                lines = port_file.read_text().split()
                if len(lines) >= 2:
                    return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            if self._proc.poll() is not None:
                break
            time.sleep(0.1)
        log = self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""
        raise BrowserError(f"Chromium did not start (exit {self._proc.poll()}): {log}")

    # Protocol ---------------------------------------------------------------------------

    def _send(self, method: str, params: dict | None = None, session: str | None = None,
              timeout: float = 60) -> dict:
        msg_id = next(self._ids)
        message = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"{method}: no reply within {timeout:.0f}s")
            reply = json.loads(self._ws.recv(timeout=remaining))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)
                del self._events[:-500]

    def send(self, method: str, params: dict | None = None, timeout: float = 60) -> dict:
        return self._send(method, params, session=self._session, timeout=timeout)

    # Page -------------------------------------------------------------------------------

    def goto(self, url: str) -> None:
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"navigating to {url}: {result['errorText']}")
        self.wait_for("document.readyState === 'complete'", timeout=60, what=f"{url} to load")

    def eval(self, expression: str, timeout: float = 30):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript error: {text}\n  in: {expression[:300]}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30, what: str | None = None, interval: float = 0.25):
        """Wait until ``expression`` is truthy in the page; return its value."""
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            try:
                value = self.eval(f"(() => {{ const v = ({expression}); return v instanceof Node ? true : v; }})()")
                if value:
                    return value
            except BrowserError as exc:  # e.g. mid-navigation
                last_error = exc
            time.sleep(interval)
        raise BrowserError(f"timed out after {timeout:.0f}s waiting for {what or expression}"
                           + (f" (last error: {last_error})" if last_error else ""))

    def url(self) -> str:
        return self.eval("location.href")

    def text(self) -> str:
        return self.eval("document.body ? document.body.innerText : ''") or ""

    def focus_and_type(self, selector: str, text: str) -> None:
        """Focus a field, clear it and type like a user (real input events, so React sees them)."""
        found = self.eval(f"""(() => {{
            const el = document.querySelector({json.dumps(selector)});
            if (!el) return false;
            el.scrollIntoView({{block: 'center'}}); el.focus(); el.select && el.select();
            return true; }})()""")
        if not found:
            raise BrowserError(f"no element {selector}")
        self.send("Input.insertText", {"text": text})

    def click(self, expression: str, what: str) -> None:
        """Click the element an expression returns, with real mouse events at its centre."""
        box = self.eval(f"""(() => {{
            const el = {expression};
            if (!el) return null;
            el.scrollIntoView({{block: 'center', inline: 'center'}});
            const r = el.getBoundingClientRect();
            return {{x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width, h: r.height}}; }})()""")
        if not box or not box["w"]:
            raise BrowserError(f"cannot click {what}: not found or not visible")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box["x"], "y": box["y"], "button": "left",
                                                   "clickCount": 1})

    def click_into_new_tab(self, expression: str, what: str, timeout: float = 30) -> None:
        """Click a link that opens a new tab (target=_blank), as a user does, and carry on in that
        tab once its page has loaded."""
        before = self._pages()
        self.click(expression, what)
        deadline = time.monotonic() + timeout
        while not (opened := self._pages() - before):
            if time.monotonic() > deadline:
                raise BrowserError(f"clicking {what} opened no new tab within {timeout:.0f}s")
            time.sleep(0.2)
        self._attach(opened.pop())
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'",
                      timeout=timeout, what=f"the tab {what} opened to load")

    def press(self, key: str, code: str | None = None, key_code: int | None = None) -> None:
        params = {"key": key, "code": code or key}
        if key_code:
            params["windowsVirtualKeyCode"] = key_code
        self.send("Input.dispatchKeyEvent", {"type": "keyDown", **params})
        self.send("Input.dispatchKeyEvent", {"type": "keyUp", **params})

    def screenshot(self, path: Path, full_page: bool = False) -> Path:
        params = {"format": "png"}
        if full_page:
            size = self.eval("({w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight})")
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["w"], "height": min(size["h"], 4000), "scale": 1})
        data = self.send("Page.captureScreenshot", params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def console_errors(self) -> list[str]:
        return [str(e["params"].get("exceptionDetails", {}).get("text"))
                for e in self._events if e.get("method") == "Runtime.exceptionThrown"]

    def close(self) -> None:
        try:
            if self._ws is not None:
                self._ws.close()
        except Exception:  # noqa: BLE001 - closing a dead socket is fine
            pass
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):  # the whole group: zygotes, renderers
            try:
                os.killpg(self._proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self._proc.wait(wait)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)
        self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
