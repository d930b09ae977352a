"""How dial tasks are cut into SendMessageBatch calls: never more than SQS takes in one call."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from include.campaigns.sqs_batches import MAX_BATCH_BYTES, SQS_BATCH, cut

sizes_strategy = st.lists(st.integers(1, MAX_BATCH_BYTES + 100), max_size=60) | st.lists(
    st.integers(1, 3000), max_size=60
)


@given(sizes_strategy)
def test_batches_cover_every_task_once_in_order_within_both_caps(sizes):
    batches = list(cut(sizes))
    assert [i for start, end in batches for i in range(start, end)] == list(range(len(sizes)))
    for start, end in batches:
        assert 1 <= end - start <= SQS_BATCH
        # Over the byte cap only a single body larger than it alone (SQS refuses that one by itself).
        assert sum(sizes[start:end]) <= MAX_BATCH_BYTES or end - start == 1


@given(sizes_strategy)
def test_a_batch_is_cut_only_when_the_next_task_would_not_fit(sizes):
    batches = list(cut(sizes))
    for (start, end), _ in zip(batches, batches[1:], strict=False):
        assert end - start == SQS_BATCH or sum(sizes[start : end + 1]) > MAX_BATCH_BYTES


def test_ten_small_tasks_go_in_one_call_and_ten_half_limit_tasks_in_five():
    assert list(cut([700] * 25)) == [(0, 10), (10, 20), (20, 25)]
    assert len(list(cut([MAX_BATCH_BYTES // 2] * 10))) == 5
