"""Consecutive API pages are validated and loaded as one batch (GX costs the same per call
whatever the size), without losing a checkpoint: pure, no warehouse."""

from __future__ import annotations

import pyarrow as pa
import pytest

from revops.pipeline import coalesce
from revops.sources.base import Batch, Stream, string_schema

STREAM = Stream("t", "s", ("id",), string_schema("id", "v"))


def _page(ids: list[int], state: dict | None) -> Batch:
    table = pa.Table.from_pydict({"id": [str(i) for i in ids], "v": [f"v{i}" for i in ids]},
                                 schema=STREAM.schema)
    return Batch(STREAM, table, state=state)


def test_pages_join_and_carry_the_last_state():
    pages = [_page([1, 2], {"c": 1}), _page([3], None), _page([4, 5], {"c": 3}), _page([6], None)]
    out = list(coalesce(iter(pages), max_rows=4))
    assert [b.records.column("id").to_pylist() for b in out] == [["1", "2", "3", "4", "5"], ["6"]]
    assert [b.state for b in out] == [{"c": 3}, None]
    assert [b.meta.get("batches", 1) for b in out] == [3, 1]


def test_a_failing_source_still_hands_over_what_it_read_then_raises():
    def pages():
        yield _page([1], {"c": 1})
        yield _page([2], {"c": 2})
        raise RuntimeError("token expired")

    got = []
    with pytest.raises(RuntimeError, match="token expired"):
        for batch in coalesce(pages(), max_rows=100):
            got.append(batch)
    assert [b.records.column("id").to_pylist() for b in got] == [["1", "2"]]
    assert got[0].state == {"c": 2}


def test_a_new_column_in_a_later_page_is_kept():
    wide = pa.Table.from_pydict({"id": ["2"], "v": ["x"], "extra": ["e"]})
    out = list(coalesce(iter([_page([1], None), Batch(STREAM, wide)]), max_rows=100))
    assert out[0].records.column("extra").to_pylist() == [None, "e"]


def test_wide_rows_make_smaller_batches():
    """A batch ends at ``max_bytes`` of Arrow data as at ``max_rows``: wide rows (a CRM with
    many custom properties) make batches of fewer rows, not of more memory."""
    pages = [_page([100 + i * 10 + k for k in range(10)], {"c": i}) for i in range(10)]  # same width
    per_page = pages[0].records.get_total_buffer_size()
    assert {p.records.get_total_buffer_size() for p in pages} == {per_page}
    out = list(coalesce(iter(pages), max_rows=1_000, max_bytes=3 * per_page))
    assert [len(b) for b in out] == [30, 30, 30, 10]
    assert [b.state for b in out] == [{"c": 2}, {"c": 5}, {"c": 8}, {"c": 9}]
    assert all(b.records.get_total_buffer_size() <= 3 * per_page for b in out)
    # without the byte bound the rows bound decides
    assert [len(b) for b in coalesce(iter(pages), max_rows=1_000, max_bytes=10**9)] == [100]


def _holders(budget, sizes: list[int], hold_s: float = 0.05) -> tuple[list[int], list[int]]:
    """Each size held by a thread of its own, started in order a little apart: the most bytes
    held at once as each block saw it, and the order the blocks got in."""
    import threading
    import time

    seen, order, lock = [], [], threading.Lock()

    def run(i: int, n: int) -> None:
        with budget.hold(n):
            with lock:
                order.append(i)
                seen.append(budget.held)
            time.sleep(hold_s)

    threads = [threading.Thread(target=run, args=(i, n)) for i, n in enumerate(sizes)]
    for t in threads:
        t.start()
        time.sleep(0.01)
    for t in threads:
        t.join(5)
    assert not any(t.is_alive() for t in threads)
    return seen, order


def test_the_byte_budget_never_holds_more_than_its_limit():
    from revops.pipeline import ByteBudget

    seen, order = _holders(ByteBudget(100), [60, 30, 30, 50, 10, 100])
    assert max(seen) <= 100 and sorted(order) == [0, 1, 2, 3, 4, 5]
    assert seen[0] == 60 and 90 in seen  # the first two fit together; the third waited


def test_a_large_batch_is_not_overtaken_by_small_ones_and_an_oversized_one_runs_alone():
    from revops.pipeline import ByteBudget

    # 0 holds 70; 1 (50) waits; 2 (10) would fit beside 0 but asked after 1, so it waits too
    seen, order = _holders(ByteBudget(100), [70, 50, 10])
    assert order == [0, 1, 2]
    # a batch larger than the budget is held as the whole budget: alone, and it does not block
    # for ever
    budget = ByteBudget(100)
    seen, order = _holders(budget, [30, 500, 30])
    assert order == [0, 1, 2] and 100 in seen and max(seen) == 100 and budget.held == 0
