"""`make test`: the whole suite, as two pytest sessions side by side.

The real-scheduler tests (tests/scheduler) spend most of their wall time waiting for the
scheduler's ticks, so they run on a stack of their own (.stack/test-scheduler) while the rest of
the suite runs on .stack/test. Each session is a plain pytest run that can be repeated alone:

    python -m pytest --ignore=tests/scheduler
    CAMPAIGN_STACK_DIR=.stack/test-scheduler python -m pytest tests/scheduler

Arguments, if any, go to one ordinary pytest session instead (`python -m dev.suite tests/unit`).
The scheduler session's output is kept in .stack/test-scheduler.log and printed when it ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEDULER_TESTS = "tests/scheduler"


def main(argv: list[str]) -> int:
    pytest = [sys.executable, "-m", "pytest"]
    if argv:
        return subprocess.call([*pytest, *argv], cwd=ROOT)
    log_path = ROOT / ".stack" / "test-scheduler.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    scheduler_env = {**os.environ, "CAMPAIGN_STACK_DIR": str(ROOT / ".stack" / "test-scheduler")}
    started = time.monotonic()
    # A stopped suite stops both sessions: neither may go on truncating tables on its own.
    signal.signal(signal.SIGTERM, _interrupt)
    with log_path.open("wb") as log:
        scheduler = subprocess.Popen(
            [*pytest, SCHEDULER_TESTS], cwd=ROOT, env=scheduler_env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            rest = subprocess.call([*pytest, f"--ignore={SCHEDULER_TESTS}"], cwd=ROOT)
            scheduler_rc = scheduler.wait()
        except KeyboardInterrupt:
            scheduler.terminate()
            scheduler.wait()
            return 130
    sys.stdout.write(f"\n===== {SCHEDULER_TESTS} (run alongside; its log: {log_path}) =====\n")
    sys.stdout.write(log_path.read_text(errors="replace"))
    minutes, seconds = divmod(int(time.monotonic() - started), 60)
    verdict = "passed" if rest == 0 and scheduler_rc == 0 else "FAILED"
    print(
        f"\nsuite {verdict} in {minutes} min {seconds:02d} s "
        f"(rest of the suite exit {rest}, {SCHEDULER_TESTS} exit {scheduler_rc})"
    )
    # pytest's "no tests collected" (5) in one half is a failure of the whole.
    return rest or scheduler_rc


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
