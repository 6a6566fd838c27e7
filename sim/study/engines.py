"""Where a sweep's runs go: the same ``concurrent.futures`` interface over a local process pool
(spawned workers), Dask (``LocalCluster`` or a scheduler address) and this process (``inline``),
and the dispatcher that keeps every worker busy with tasks sized from measured run times.

A task is a list of runs ``(run_id, scenario, seed)``; :func:`_run_chunk` runs them one after another
in a worker and returns one result dict per run (``status`` ``ok``/``failed``/``invalid``).
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import signal
import statistics
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from ..core.errors import CliError, ConservationError

__all__ = ["default_workers", "make_engine", "dispatch", "run_chunk", "error_text", "ENGINES"]

ENGINES = ("pool", "dask", "inline")


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\r", " ").replace("\n", " | ")
    return text if len(text) <= 1000 else text[:997] + "..."


def _init_pool_worker() -> None:
    """Pool workers leave Ctrl-C to the parent, which stops them (no tracebacks from each worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


#: Runs this process has started (a process's first run also loads its modules' caches and maps).
_PROCESS = {"runs": 0}


def _run_chunk(tasks: list[tuple[int, Any, int]], run_fn: Callable, threads: int) -> list[dict]:
    """Run a task's runs one after another; each failing run is retried once, right away."""
    import numba

    from .. import kinds  # noqa: F401  (imported before any run is timed)
    if threads > 0:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    out = []
    for run_id, scenario, seed in tasks:
        warm = _PROCESS["runs"] > 0
        _PROCESS["runs"] += 1
        errors: list[str] = []
        for attempt in (1, 2):
            t0 = time.perf_counter()
            try:
                kpis = run_fn(scenario, seed)
            except ConservationError as exc:       # a model error: invalid, and a retry would repeat it
                error = _error_text(exc)
                out.append({"id": run_id, "status": "invalid", "attempts": attempt, "kpis": {}, "warm": warm,
                            "wall_seconds": time.perf_counter() - t0,
                            "error": f"{error} (after: {errors[0]})" if errors else error})
                break
            except Exception as exc:               # recorded, never raised: the sweep goes on
                errors.append(_error_text(exc))
                continue
            out.append({"id": run_id, "status": "ok", "attempts": attempt, "kpis": kpis, "warm": warm,
                        "wall_seconds": time.perf_counter() - t0,
                        "error": f"retried after: {errors[0]}" if errors else ""})
            break
        else:
            error = f"{errors[0]} (failed twice)" if errors[0] == errors[1] else f"{errors[0]}; retry: {errors[1]}"
            out.append({"id": run_id, "status": "failed", "attempts": 2, "kpis": {}, "warm": warm,
                        "wall_seconds": time.perf_counter() - t0, "error": error})
    return out


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                      # pragma: no cover (not on Linux)
        return max(1, os.cpu_count() or 1)


class _PoolEngine:
    name = "pool"

    def __init__(self, workers: int):
        self.workers = self.slots = workers
        self.threads = max(1, default_workers() // workers)
        self.generation = 0
        self._start()

    def _start(self) -> None:
        import multiprocessing
        self.executor = cf.ProcessPoolExecutor(max_workers=self.workers, initializer=_init_pool_worker,
                                               mp_context=multiprocessing.get_context("spawn"))

    def submit(self, tasks, run_fn):
        return self.executor.submit(_run_chunk, tasks, run_fn, self.threads)

    def restart(self) -> None:
        self.close(kill=True)
        self.generation += 1
        self._start()

    def close(self, kill: bool = False) -> None:
        if kill:
            for proc in list((getattr(self.executor, "_processes", None) or {}).values()):
                proc.terminate()
        self.executor.shutdown(wait=not kill, cancel_futures=True)

    def describe(self) -> str:
        return f"local process pool of {self.workers} worker(s)"


class _DaskEngine:
    name = "dask"

    def __init__(self, workers: int, scheduler: str | None):
        import logging

        from dask.distributed import Client, LocalCluster
        self.cluster = None
        self.generation = 0
        self.scheduler = scheduler
        if scheduler:
            try:
                self.client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise CliError(f"--scheduler {scheduler!r}: cannot connect ({exc})") from None
            info = self.client.scheduler_info()
            self.slots = max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))
            self.threads = 1
        else:
            # Worker processes started while SIGINT is ignored keep ignoring it (CPython leaves an
            # ignored SIGINT alone), so Ctrl-C reaches only this process, which closes the cluster.
            import threading
            main = threading.current_thread() is threading.main_thread()
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
            try:
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None, silence_logs=logging.ERROR)
            finally:
                if previous is not None:
                    signal.signal(signal.SIGINT, previous)
            self.client = Client(self.cluster)
            self.slots = workers
            self.threads = max(1, default_workers() // workers)
        self.workers = self.slots
        self.executor = self.client.get_executor(pure=False)

    def submit(self, tasks, run_fn):
        return self.executor.submit(_run_chunk, tasks, run_fn, self.threads)

    def restart(self) -> None:                  # Dask replaces lost workers itself
        self.generation += 1

    def close(self, kill: bool = False) -> None:
        try:
            self.executor.shutdown(wait=False)
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        except Exception:                       # pragma: no cover (closing a half-dead cluster)
            pass

    def describe(self) -> str:
        where = f"scheduler {self.scheduler}" if self.scheduler else "LocalCluster"
        return f"Dask {where} with {self.slots} worker thread(s)"


class _InlineEngine:
    """Runs each task in this process when it is submitted (tests, debugging)."""

    name = "inline"

    def __init__(self) -> None:
        self.workers = self.slots = 1
        self.generation = 0

    def submit(self, tasks, run_fn):
        future: cf.Future = cf.Future()
        try:
            future.set_result(_run_chunk(tasks, run_fn, 0))
        except Exception as exc:                # handed to the dispatcher as a lost task
            future.set_exception(exc)
        return future

    def restart(self) -> None:
        self.generation += 1

    def close(self, kill: bool = False) -> None:
        pass

    def describe(self) -> str:
        return "this process (inline)"


def _is_broken_pool(exc: BaseException) -> bool:
    from concurrent.futures.process import BrokenProcessPool
    return isinstance(exc, BrokenProcessPool)


def _dispatch(engine, todo: list[tuple[int, Any, int]], run_fn, on_result, task_target_s: float,
              stats: dict) -> None:
    """Keep about two tasks per worker in flight; size tasks from the measured run time."""
    pending = deque(todo)
    retry: deque = deque()
    lost: Counter = Counter()
    inflight: dict = {}
    walls: list[float] = []            # runs in a process that had run before (no start-up costs)
    cold: list[float] = []
    sizes: list[int] = []

    def chunk_size() -> int:
        if not walls and not cold:
            return 1
        per_run = max(statistics.median((walls or cold)[-64:]), 1e-4)
        by_time = max(1, int(task_target_s / per_run))
        by_balance = max(1, math.ceil(len(pending) / (4 * engine.slots)))
        return min(by_time, by_balance, 1000)

    while pending or retry or inflight:
        while (pending or retry) and len(inflight) < 2 * engine.slots:
            if retry:
                chunk = [retry.popleft()]
            else:
                n = chunk_size()
                chunk = [pending.popleft() for _ in range(min(n, len(pending)))]
            sizes.append(len(chunk))
            inflight[engine.submit(chunk, run_fn)] = (chunk, engine.generation)
        done, _ = cf.wait(list(inflight), return_when=cf.FIRST_COMPLETED)
        restart = False
        for fut in done:
            chunk, generation = inflight.pop(fut)
            try:
                results = fut.result()
            except Exception as exc:                # the task itself died (worker lost), not a run
                restart = restart or (_is_broken_pool(exc) and generation == engine.generation)
                for item in chunk:
                    lost[item[0]] += 1
                    if lost[item[0]] >= 2:
                        on_result({"id": item[0], "status": "failed", "attempts": 2, "kpis": {},
                                   "wall_seconds": 0.0, "error": f"worker lost twice: {_error_text(exc)}"})
                    else:
                        retry.append(item)
                continue
            for res in results:
                (walls if res.get("warm") else cold).append(res["wall_seconds"])
                on_result(res)
        if restart:
            engine.restart()
    stats["tasks"] = len(sizes)
    stats["mean_runs_per_task"] = round(sum(sizes) / len(sizes), 2) if sizes else 0.0


def make_engine(engine: str, workers: int, scheduler: str | None):
    """A started engine: ``pool`` (``workers`` spawned processes), ``dask`` (a LocalCluster of
    ``workers``, or the cluster at ``scheduler``) or ``inline`` (this process)."""
    if engine == "pool":
        return _PoolEngine(workers)
    if engine == "inline":
        return _InlineEngine()
    return _DaskEngine(workers, scheduler)


run_chunk, dispatch, error_text = _run_chunk, _dispatch, _error_text
