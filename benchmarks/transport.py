"""The benchmark's SQS endpoint: fauxqs 1.9.2 (npm), started and stopped by the harness.

Stock moto recomputes a queue's counts on every send, so its send rate falls with queue depth and
the benchmark would measure moto. fauxqs holds its rate flat past 100,000 messages (the harness
prints the rate at the start and the end of every raw run to show it). Each run sends to a queue
of its own, deleted afterwards, so the emulator's memory does not grow over the session.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

FAUXQS_VERSION = "1.9.2"
REGION = "us-east-1"
LOCAL_KEY = "local"

# Importing the module starts the server on the port given; logging off, it costs a request.
_LAUNCHER = """
import { startFauxqs } from %s;
const server = await startFauxqs({ port: %d, logger: false, host: "127.0.0.1" });
process.on("SIGTERM", async () => { await server.stop(); process.exit(0); });
console.log("fauxqs ready on " + server.port);
"""


def install_dir(stack_dir: Path) -> Path:
    return stack_dir / "fauxqs"


def ensure_installed(stack_dir: Path) -> Path:
    """npm-install fauxqs@1.9.2 into the stack folder unless that exact version is there."""
    folder = install_dir(stack_dir)
    package = folder / "node_modules" / "fauxqs" / "package.json"
    if package.exists() and json.loads(package.read_text()).get("version") == FAUXQS_VERSION:
        return package.parent
    if not shutil.which("npm"):
        raise SystemExit("npm is needed for the benchmark's SQS endpoint (fauxqs); install Node.js 20+")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "npm",
            "install",
            "--prefix",
            str(folder),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            f"fauxqs@{FAUXQS_VERSION}",
        ],
        check=True,
    )
    return package.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Fauxqs:
    """One fauxqs server process on a free port; a context manager that always stops it."""

    def __init__(self, stack_dir: Path):
        self.stack_dir = stack_dir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Fauxqs:
        package = ensure_installed(self.stack_dir)
        app = package / "dist" / "app.js"
        log = open(self.stack_dir / "fauxqs.log", "ab")  # noqa: SIM115 - the server's output, for its whole life
        self.proc = subprocess.Popen(
            ["node", "--input-type=module", "-e", _LAUNCHER % (json.dumps(app.as_uri()), self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fauxqs exited at start; see {self.stack_dir / 'fauxqs.log'}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/health", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("fauxqs did not answer /health within 30 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def connection_json(self) -> str:
        """The campaigns_aws connection, re-pointed at this server (AIRFLOW_CONN_CAMPAIGNS_AWS)."""
        return json.dumps(
            {
                "conn_type": "aws",
                "login": LOCAL_KEY,
                "password": LOCAL_KEY,
                "extra": {"region_name": REGION, "endpoint_url": self.endpoint},
            }
        )

    def __enter__(self) -> Fauxqs:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def client(endpoint: str):
    """A plain boto3 SQS client for the harness's own housekeeping (queues, counts)."""
    import boto3

    return boto3.client(
        "sqs", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=LOCAL_KEY, aws_secret_access_key=LOCAL_KEY
    )


def create_queue(sqs, name: str) -> str:
    return sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]


def queue_depth(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])
