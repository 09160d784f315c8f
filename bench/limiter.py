"""The door's in-process rate limit: `limits`' MemoryStorage against ratelimits.LocalMovingWindow.

    .venv/bin/python bench/limiter.py [-n 20000] [--threads 4]

Each of `--threads` threads counts hits for one device key against RATELIMIT_API's default
(50 per second, or `--limit`) at a door's pace (a hit every 2 ms per thread, as gunicorn's threads
serving scans), and the script prints the CPU per hit and how many threads each limiter
started meanwhile. Why it exists: the library's MemoryStorage starts a `threading.Timer`
(10 ms) to expire its entries whenever none is running, so under steady traffic it starts
a thread about every 10 ms of activity; the lean check-in path counts with the
hand-written LocalMovingWindow instead (see its docstring).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from registration.ratelimits import LocalMovingWindow


def run(name: str, hit: Callable[[str], bool], n: int, threads: int) -> None:
    started_threads = [0]
    original_start = threading.Thread.start

    def counting_start(self: threading.Thread) -> None:
        started_threads[0] += 1
        original_start(self)

    def worker(index: int) -> None:
        key = f"device:{index}"
        for _ in range(n // threads):
            hit(key)
            time.sleep(0.002)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    threading.Thread.start = counting_start  # type: ignore[method-assign]
    try:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for t in pool:
            original_start(t)
        for t in pool:
            t.join()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        threading.Thread.start = original_start  # type: ignore[method-assign]
    hits = n // threads * threads
    print(f"{name:<34} {cpu / hits * 1e6:7.1f} µs CPU per hit (incl. sleeping threads' "
          f"wake-ups)   threads started: {started_threads[0]:>5} in {wall:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=20000, help="hits in all")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--limit", default="50 per second",
                        help="RATELIMIT_API (bench/checkin.py uses 100000 per second)")
    args = parser.parse_args()
    limit = parse(args.limit)
    print(f"limit {args.limit}, {args.threads} threads, {args.n} hits")

    library = MovingWindowRateLimiter(MemoryStorage())
    run("limits MemoryStorage, moving window",
        lambda key: library.hit(limit, "fast-checkin", key), args.n, args.threads)
    local = LocalMovingWindow()
    run("ratelimits.LocalMovingWindow", lambda key: local.hit(limit, key) is None,
        args.n, args.threads)
    baseline = [0]

    def nothing(key: str) -> bool:
        baseline[0] += 1
        return True

    run("no limiter (the loop's own cost)", nothing, args.n, args.threads)


if __name__ == "__main__":
    main()
