import threading

import pytest

from churn_causal.parallel import map_blocks, threads


def test_blocks_come_back_in_order_and_cover_every_row(monkeypatch):
    monkeypatch.setenv("CHURN_CAUSAL_THREADS", "3")
    blocks = map_blocks(lambda b: (b.start, b.stop), 10_001, 1_000)
    assert blocks[0] == (0, 1_000) and blocks[-1] == (10_000, 11_000)
    assert [s for s, _ in blocks] == list(range(0, 10_001, 1_000))


def test_one_thread_runs_in_the_caller(monkeypatch):
    monkeypatch.setenv("CHURN_CAUSAL_THREADS", "1")
    seen = map_blocks(lambda b: threading.current_thread(), 5_000, 1_000)
    assert threads() == 1 and set(seen) == {threading.current_thread()}
    monkeypatch.setenv("CHURN_CAUSAL_THREADS", "2")
    seen = map_blocks(lambda b: threading.current_thread(), 5_000, 1_000)
    assert threading.current_thread() not in seen


def test_a_setting_that_is_not_a_number_says_what_to_do(monkeypatch):
    monkeypatch.setenv("CHURN_CAUSAL_THREADS", "many")
    with pytest.raises(ValueError, match=r"CHURN_CAUSAL_THREADS='many'.*leave it unset"):
        threads()


def test_tasks_cut_into_blocks_and_nested_tasks_run_where_they_are(monkeypatch):
    """A task may cut its work into blocks (their own pool); a task inside a task runs in its
    caller's thread, so that two busy workers never wait for each other."""
    from churn_causal.parallel import map_tasks

    monkeypatch.setenv("CHURN_CAUSAL_THREADS", "2")

    def task(k: int) -> tuple[int, list[int], bool]:
        outer = threading.current_thread()
        blocks = map_blocks(lambda b: b.start, 4_000, 1_000)
        inner = map_tasks(lambda _: threading.current_thread(), range(3))
        return k, blocks, set(inner) == {outer}

    results = map_tasks(task, range(5))
    assert [k for k, _, _ in results] == list(range(5))
    assert all(blocks == [0, 1_000, 2_000, 3_000] for _, blocks, _ in results)
    assert all(nested_in_caller for _, _, nested_in_caller in results)


def test_a_forked_child_makes_threads_of_its_own(monkeypatch):
    """The gradings fork worker processes after the parent's pools exist; a child's blocks
    must not wait on the parent's threads, which the child does not have."""
    import multiprocessing

    monkeypatch.setenv("CHURN_CAUSAL_THREADS", "2")
    assert map_blocks(lambda b: b.start, 3_000, 1_000) == [0, 1_000, 2_000]  # parent's pool
    with multiprocessing.get_context("fork").Pool(1) as pool:
        result = pool.apply_async(_blocks_in_a_child).get(timeout=20)
    assert result == [0, 1_000, 2_000]


def _blocks_in_a_child() -> list[int]:
    return map_blocks(lambda b: b.start, 3_000, 1_000)
