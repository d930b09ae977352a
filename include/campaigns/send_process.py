"""The sending process: a large dispatch sends its dial tasks from a second process.

A dispatch's own Python (the claims' rows, the blacklist and Redis screens, the encoding, the
marks) and boto3's per-request work share one interpreter lock in one process, so every
microsecond of the first is taken from the second. In a process of its own the sending loop runs
as it would with no database at all, on the other core, while the dispatch process claims ahead.

The order that makes a dispatch safe is unchanged. A claim is committed before its rows are handed
over; the sending process reports what SQS accepted; only that is marked sent. Whatever dies, the
rest stays claimed and the next try resends it under the same ``dial_attempt_id``:

- the sending process dies: the dispatch marks what it reported, and fails with DispatchIncomplete;
- the dispatch process dies: the kernel kills the sending process with it (Linux), so no sender
  outlives the dispatcher lock that its parent's database session held; elsewhere it stops at the
  end of its input, once the batch in hand is sent.

Protocol, over the two pipes: a first line of JSON (where and how to send, with the credentials
frozen at the start: never in argv or the environment, where other processes can read them), then
one line per batch. json.dumps escapes every control character, so two of them separate the fields.
Each answer line lists what SQS accepted; a line starting with ``!`` is the process's last: why it
stopped.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from include.campaigns.sqs_batches import DispatchIncomplete, cut, send_batch

log = logging.getLogger(__name__)

# A dispatch with at least this much room sends from a sending process. Starting one costs about
# as long as sending a couple of thousand dial tasks, which a sensor's top-up never claims.
SEND_PROCESS_MIN_ROOM = 5_000
ENTRY_SEP, FIELD_SEP = "\x1f", "\x1e"
FAILED = "!"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding include/
_PR_SET_PDEATHSIG = 1
PIPE_BUFFER = 1 << 16
ANSWER_FLUSH_S = 0.05


def connection_spec(queue: str, group: str | None) -> dict:
    """Where and how the sending process sends: what the SQS hook's own client is built from (the
    Airflow connection's region, endpoint, certificate check and client settings), the credentials
    of the connection's session, and the dial queue (a name the sending process looks up, or a URL).
    No client is built here: that is the sending process's start-up, beside the dispatch's checks."""
    from botocore.config import Config

    from airflow.providers.amazon.aws.hooks.sqs import SqsHook

    from include.campaigns.resources import AWS_CONN_ID

    hook = SqsHook(aws_conn_id=AWS_CONN_ID)
    session = hook.get_session(region_name=hook.region_name)
    credentials = session.get_credentials()
    if credentials is None:
        raise DispatchIncomplete("no AWS credentials for the sending process; the claimed dial tasks are resent")
    frozen = credentials.get_frozen_credentials()
    settings = {}
    for option in Config.OPTION_DEFAULTS:
        value = getattr(hook.config, option, None)
        try:
            json.dumps(value)
        except TypeError:
            continue  # nothing the connection can set is lost: its extras are plain values
        if value is not None:
            settings[option] = value
    return {
        "region": session.region_name,
        "endpoint_url": hook.conn_config.get_service_endpoint_url(service_name="sqs"),
        "verify": hook.verify,
        "config": settings,
        "access_key": frozen.access_key,
        "secret_key": frozen.secret_key,
        "token": frozen.token,
        "queue": queue,
        "group": group,
    }


def spec_client(spec: dict) -> Any:
    """The boto3 SQS client a spec describes (in the sending process)."""
    import boto3
    from botocore.config import Config

    config = {k: tuple(v) if k == "client_cert" and isinstance(v, list) else v for k, v in spec["config"].items()}
    return boto3.client(
        "sqs",
        region_name=spec["region"],
        endpoint_url=spec["endpoint_url"],
        verify=spec["verify"],
        aws_access_key_id=spec["access_key"],
        aws_secret_access_key=spec["secret_key"],
        aws_session_token=spec["token"],
        config=Config(**config),
    )


class SendProcess:
    """The dispatch process's end: hands encoded dial tasks over, collects what SQS accepted."""

    def __init__(self) -> None:
        """Start the process; it imports boto3 while the dispatch gets ready, then waits for start()."""
        self._encode: Callable[[dict], str] | None = None
        environ = dict(os.environ)
        environ["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, environ.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            # -P: the task's working directory is not put first on sys.path, where an `include`
            # folder of another project would stand in for this one.
            [sys.executable, "-P", "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environ,
            text=True,
            encoding="utf-8",
            bufsize=PIPE_BUFFER,
        )
        self._lock = threading.Lock()
        self._accepted: list[tuple[str, str]] = []
        self._failure: str | None = None
        self._closed = False
        self._handed = self._reported = 0  # dial tasks written to the process, and reported accepted
        self._reader = threading.Thread(target=self._read, name="send-process-answers", daemon=True)
        self._reader.start()

    def start(self, spec: dict, encode: Callable[[dict], str]) -> None:
        """Say where and how to send (connection_spec), and how to encode a row: the process builds
        its client and finds the queue at once; rows can be handed over from now on."""
        self._encode = encode
        self._write(json.dumps({**spec, "parent": os.getpid()}) + "\n")
        self._flush()

    def _flush(self) -> None:
        if not self._closed:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                self._closed = True

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            if not line.endswith("\n"):
                break  # cut off by the process's death: what it lists may be partial
            line = line[:-1]
            if line.startswith(FAILED):
                self._failure = line[1:]
                continue
            if line:
                pairs = [tuple(pair.split(FIELD_SEP, 1)) for pair in line.split(ENTRY_SEP)]
                with self._lock:
                    self._accepted += pairs  # type: ignore[arg-type]
                    self._reported += len(pairs)

    def _write(self, text: str, tasks: int = 0) -> None:
        if self._closed:
            return
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(text)
            self._handed += tasks
        except (BrokenPipeError, ValueError):
            self._closed = True  # the process has gone; finish() says why

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def stopped(self) -> bool:
        """The process has gone or said why it stops: hand nothing more over."""
        return self._closed or self._failure is not None or self._proc.poll() is not None

    def send(self, rows: list[dict]) -> None:
        """Hand rows over in batches (sqs_batches.cut); returns once they are in the pipe (the pipe's size is
        the only queue: a full one waits for the sending process)."""
        encode = self._encode
        assert encode is not None, "start() first"
        bodies = [encode(row) for row in rows]
        for start, end in cut([len(body) for body in bodies]):  # ASCII: a character is a byte
            self._write(
                ENTRY_SEP.join(f"{rows[i]['dial_attempt_id']}{FIELD_SEP}{bodies[i]}" for i in range(start, end)) + "\n",
                end - start,
            )

    def take_accepted(self) -> list[tuple[str, str]]:
        """(dial_attempt_id, message id) of what SQS has accepted since the last call."""
        with self._lock:
            accepted, self._accepted = self._accepted, []
        return accepted

    def finish(self, grace_s: float | None = None) -> tuple[list[tuple[str, str]], str | None]:
        """End the input, let the process send what it holds, and return what SQS accepted since the
        last take, with why the process failed (None if it sent everything it was handed).

        ``grace_s`` bounds the wait when the dispatch is failing anyway: a process still sending
        then is killed, and what it had not reported stays claimed, to be resent."""
        if not self._closed:
            self._closed = True
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            code = self._proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait()
        self._reader.join()
        failure = self._failure or (f"the sending process exited with code {code}" if code else None)
        if failure is None and self._reported < self._handed:
            failure = f"the sending process reported {self._reported} of the {self._handed} dial tasks handed to it"
        return self.take_accepted(), failure


# The sending process ---------------------------------------------------------------------------


def _die_with_parent(parent: int) -> None:
    # The kernel sends the signal when the thread that started this process ends, not only the
    # process: dispatch waits for this process on that thread before it returns.
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        if ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
            logging.warning("could not ask to die with the dispatch process (errno %d)", ctypes.get_errno())
    if os.getppid() != parent:  # the parent died before the line above
        raise SystemExit(1)


def _serve(spec: dict, lines, out) -> None:
    from include.campaigns.resources import queue_url_of

    client = spec_client(spec)
    queue_url = queue_url_of(client, spec["queue"])
    flushed = time.monotonic()
    for line in lines:
        if not line.endswith("\n") or _STOPPING:
            return  # cut off by the parent's death (never send half a batch), or told to stop
        _send_line(client, queue_url, spec["group"], line[:-1], out)
        # Answers go out every few dozen milliseconds, not per batch (each one wakes the dispatch
        # process): a kill loses at most that much, which the retry resends under the same ids.
        if time.monotonic() - flushed >= ANSWER_FLUSH_S:
            out.flush()
            flushed = time.monotonic()


def _send_line(client: Any, queue_url: str, group: str | None, line: str, out) -> None:
    entries, ids = [], {}
    for n, part in enumerate(line.split(ENTRY_SEP)):
        dial_attempt_id, body = part.split(FIELD_SEP, 1)
        entry = {"Id": str(n), "MessageBody": body}
        if group:
            entry["MessageGroupId"] = group
            entry["MessageDeduplicationId"] = dial_attempt_id
        entries.append(entry)
        ids[str(n)] = dial_attempt_id
    accepted: list[str] = []

    def note(entry_id: str, message_id: str) -> None:
        accepted.append(f"{ids[entry_id]}{FIELD_SEP}{message_id}")

    try:
        send_batch(client, queue_url, entries, note)
    finally:
        out.write(ENTRY_SEP.join(accepted) + "\n")


_STOPPING = False


def _stop_after_this_batch(signum, frame) -> None:
    # A task's whole process group gets SIGTERM when Airflow stops it: the batch in hand is sent
    # and reported, and the dispatch marks it before it fails.
    global _STOPPING
    _STOPPING = True


def main() -> int:
    import signal

    signal.signal(signal.SIGTERM, _stop_after_this_batch)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s send_process: %(message)s")
    import boto3  # noqa: F401 - while the dispatch makes its first claim

    first = sys.stdin.readline()
    if not first:
        return 0  # the dispatch did not need it after all
    spec = json.loads(first)
    _die_with_parent(spec["parent"])
    try:
        _serve(spec, sys.stdin, sys.stdout)
    except Exception as exc:  # reported to the parent, which fails the dispatch with it
        sys.stdout.write(f"{FAILED}{type(exc).__name__}: {exc}".replace("\n", " ") + "\n")
        sys.stdout.flush()
        return 1
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
