"""app/prewarm.py: the server's background warm-up of the layer-cost disk cache — a lowest-priority
process that counts (a scope of) the design space into the cache, once per version of the code."""
import os
import sqlite3
import sys
import time

import pytest

from app import prewarm
from graph import costcache

SMALL = ("--backbone", "shufflenetv2", "--neck", "lite-pan", "--head", "yolov8", "--kind", "composed")


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv("YLD_CACHE", str(tmp_path))
    monkeypatch.delenv("YLD_PREWARM", raising=False)
    monkeypatch.delenv("YLD_COUNT_CACHE", raising=False)
    costcache.reset()
    yield tmp_path
    costcache.reset()


def _rows(path: str) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM costs").fetchone()[0]


@pytest.mark.skipif(not hasattr(os, "nice"), reason="os.nice exists on POSIX only")
def test_it_counts_into_the_disk_cache_at_the_lowest_priority_once(cache):
    proc = prewarm.start(64, 3, SMALL)
    assert proc is not None
    try:
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == 19  # niced before exec
    except ProcessLookupError:
        pass  # it already ended: nothing left to look at
    assert proc.wait(timeout=240) == 0
    done = prewarm.marker(64, 3, SMALL)
    for _ in range(100):  # the waiting thread writes it right after the process ends
        if os.path.exists(done):
            break
        time.sleep(0.05)
    assert os.path.exists(done)
    assert _rows(costcache.path()) > 0
    assert prewarm.start(64, 3, SMALL) is None  # done for this code: not again


def test_a_count_after_warming_builds_nothing(cache, monkeypatch):
    from graph import layercost
    from graph.compose import compose
    from graph.counts import count
    from graph.resolve import resolve

    proc = prewarm.start(64, 3, SMALL)
    assert proc.wait(timeout=240) == 0
    layercost.MEMO.clear()
    count(resolve(compose("shufflenetv2", "lite-pan", "yolov8", "n", nc=3), 64))
    assert layercost.MEMO.misses == 0  # every layer's numbers came from the disk


@pytest.mark.parametrize("env", [("YLD_PREWARM", "off"), ("YLD_COUNT_CACHE", "off")])
def test_it_stays_off_when_asked(cache, monkeypatch, env):
    monkeypatch.setenv(*env)
    assert prewarm.start(64, 3, SMALL) is None


def test_the_flag_turns_it_off(monkeypatch):
    import launch

    monkeypatch.delenv("YLD_PREWARM", raising=False)
    served = {}
    monkeypatch.setattr("app.main.serve", lambda **kw: served.update(kw, prewarm=os.environ.get("YLD_PREWARM")))
    monkeypatch.setattr(sys, "argv", ["launch.py", "--no-prewarm"])
    launch.main()
    assert served["prewarm"] == "off"
    monkeypatch.delenv("YLD_PREWARM", raising=False)


def test_a_warm_up_still_running_stops_with_the_server(cache):
    proc = prewarm.start(320, 5)  # the whole space at a size never counted here: tens of seconds
    assert proc is not None and proc.poll() is None
    prewarm.stop()  # what the server's exit runs
    assert proc.poll() is not None
    time.sleep(0.2)
    assert not os.path.exists(prewarm.marker(320, 5))  # stopped early: not marked done, so the next start goes on
