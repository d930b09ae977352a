"""`make airflow` is up only when its own api-server answers on its port: two stacks started at
once can be handed the same free port, and the first to bind it would answer for both."""

import socket
import subprocess
import sys
import time

from dev import airflow_local


def _listen(port: int) -> subprocess.Popen:
    code = (
        "import socket, time; s = socket.socket(); "
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
        f"s.bind(('127.0.0.1', {port})); s.listen(); print('up', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
    return proc


def test_a_port_another_process_listens_on_is_not_served_by_our_children(tmp_path, monkeypatch):
    monkeypatch.setattr(airflow_local, "log_dir", lambda: tmp_path)
    port = airflow_local.free_port()
    stranger = _listen(port)
    ours = airflow_local.Children({})
    try:
        ours.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
        assert airflow_local.listener_pid(port) == stranger.pid
        assert not airflow_local.serves(port, ours)
    finally:
        stranger.kill()
        ours.stop()


def test_a_port_our_child_listens_on_is_served_by_us(tmp_path, monkeypatch):
    monkeypatch.setattr(airflow_local, "log_dir", lambda: tmp_path)
    port = airflow_local.free_port()
    ours = airflow_local.Children({})
    code = f"import socket, time; s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(60)"
    try:
        ours.start("listener", [sys.executable, "-c", code])
        deadline = time.monotonic() + 20
        while airflow_local.listener_pid(port) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert airflow_local.serves(port, ours)
    finally:
        ours.stop()
    with socket.socket() as sock:  # stopped: the port is free again
        sock.bind(("127.0.0.1", port))
