"""One ``SendMessageBatch`` with retries of the entries SQS rejects: the one sending loop, shared by
the sender in the dispatch process and by the sending process beside it (send_process.py).

Standard library only at import: the sending process imports this module and boto3, nothing else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

log = logging.getLogger(__name__)

SQS_BATCH = 10  # the SendMessageBatch maximum
# SendMessageBatch also caps the sum of its bodies, at the size one message may have: ten dial
# tasks that each fit can be too large together, and SQS then refuses the whole call.
MAX_BATCH_BYTES = 256 * 1024
SEND_ATTEMPTS = 5  # per batch, for the entries SQS reports as failed


def message_group(campaign_id: int, queue: str) -> str | None:
    """A FIFO queue's message group (its order is kept per campaign); None for a standard queue."""
    return f"campaign-{campaign_id}" if queue.endswith(".fifo") else None


class DispatchIncomplete(RuntimeError):
    """Some claimed dial tasks could not be sent; they stay claimed and the next try resends them."""


def cut(sizes: Sequence[int]) -> Iterator[tuple[int, int]]:
    """Consecutive batches, as [start, end) of ``sizes`` (the bodies' bytes, in order): at most 10
    entries each, and at most MAX_BATCH_BYTES in all unless one body is larger alone (SQS refuses
    that one by itself; validation refuses a campaign whose tasks could be)."""
    start = total = 0
    for i, size in enumerate(sizes):
        if i > start and (i - start == SQS_BATCH or total + size > MAX_BATCH_BYTES):
            yield start, i
            start, total = i, 0
        total += size
    if start < len(sizes):
        yield start, len(sizes)


def send_batch(client: Any, queue_url: str, entries: list[dict], accepted: Callable[[str, str], None]) -> None:
    """Send up to 10 entries. ``accepted(entry_id, message_id)`` is called for each entry as soon as
    SQS accepts it, so that it is marked sent even if a later entry of the batch never is; the
    entries SQS reports as failed are retried, with backoff, up to SEND_ATTEMPTS times in all."""
    pending = {entry["Id"]: entry for entry in entries}
    for attempt in range(SEND_ATTEMPTS):
        response = client.send_message_batch(QueueUrl=queue_url, Entries=list(pending.values()))
        for ok in response.get("Successful", []):
            if pending.pop(ok["Id"], None) is not None:
                accepted(ok["Id"], ok["MessageId"])
        if not pending:
            return
        failed = response.get("Failed", [])
        log.warning(
            "SQS rejected %d of a batch of %d (%s); retrying those entries",
            len(failed),
            len(entries),
            ", ".join(sorted({f.get("Code", "?") for f in failed})),
        )
        time.sleep(0.2 * 2**attempt)
    raise DispatchIncomplete(
        f"{len(pending)} dial task(s) still rejected by SQS after {SEND_ATTEMPTS} tries; they stay "
        "claimed and are resent, with the same dial_attempt_id, by the next try"
    )
