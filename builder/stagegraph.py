"""Run a build's stages as soon as the stages they read from are done, at most ``limit`` at a time.

``run_stage_graph`` gets each stage's dependencies (its FROM stage, ``COPY --from``, ``RUN --mount
from=``) and a ``work(index)`` that builds one stage. A stage's result goes into ``results`` the
moment it is done, because later stages read it from there. When several stages are ready, the one
first in the Dockerfile starts first.

On the first failure no further stage starts, ``cancel`` is called once to stop the running ones,
and the failure is raised in the calling thread once every worker has returned. A stage that stops
because of the cancel raises ``StageCancelled``, which is never reported. Ctrl-C (only the calling
thread receives it) cancels the same way and is raised again.

With ``limit`` 1, or a single stage, everything runs in the calling thread as a plain loop, without
threads.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, MutableMapping
from typing import Generic, TypeVar

from builder.errors import BuildError

Result = TypeVar("Result")


class StageCancelled(BuildError):
    """A stage stopped early because another one failed; the other failure is what gets reported."""


def run_stage_graph(needs: Mapping[int, Collection[int]], work: Callable[[int], Result],
                    results: MutableMapping[int, Result], limit: int, cancel: Callable[[], None]) -> None:
    """Build every stage of ``needs`` (keys: stage indices in Dockerfile order, values: what each reads)."""
    if limit <= 1 or len(needs) <= 1:
        for index in sorted(needs):  # stages read only earlier stages, so Dockerfile order is a valid order
            results[index] = work(index)
        return
    _Scheduler(needs, work, results, cancel).run(min(limit, len(needs)))


class _Scheduler(Generic[Result]):
    def __init__(self, needs: Mapping[int, Collection[int]], work: Callable[[int], Result],
                 results: MutableMapping[int, Result], cancel: Callable[[], None]) -> None:
        self._needs = needs
        self._work = work
        self._results = results
        self._cancel = cancel
        self._changed = threading.Condition()  # guards everything below
        self._waiting = sorted(needs)  # not started yet, in Dockerfile order
        self._running: set[int] = set()
        self._failure: BaseException | None = None
        self._workers = 0  # worker threads still serving

    def run(self, workers: int) -> None:
        threads = [threading.Thread(target=self._serve, name=f"pybuild-stage-{number}")
                   for number in range(workers)]
        self._workers = workers
        for thread in threads:
            thread.start()
        try:
            self._wait_for_workers()
        except KeyboardInterrupt as interrupt:
            self._fail(interrupt)
            self._wait_for_workers()
        for thread in threads:
            thread.join()
        if self._failure is not None:
            raise self._failure

    def _wait_for_workers(self) -> None:
        # Not Thread.join: on Python 3.11 a join interrupted by Ctrl-C can mark a running thread as
        # stopped, and the next join would return while it still runs.
        with self._changed:
            while self._workers:
                self._changed.wait()

    def _serve(self) -> None:
        try:
            self._serve_stages()
        finally:
            with self._changed:
                self._workers -= 1
                self._changed.notify_all()

    def _serve_stages(self) -> None:
        """A worker: build ready stages until none is left to start."""
        while True:
            with self._changed:
                index = self._next_ready()
                if index is None:
                    return
            try:
                result = self._work(index)
            except BaseException as exc:  # the calling thread raises it; this thread just stops
                with self._changed:
                    self._running.discard(index)
                self._fail(exc)
                return
            with self._changed:
                self._results[index] = result
                self._running.discard(index)
                self._changed.notify_all()

    def _next_ready(self) -> int | None:
        """(Lock held) the first waiting stage whose inputs are done, waiting for one if needed;
        None once nothing is left to start or the build failed."""
        while self._failure is None and self._waiting:
            ready = next((index for index in self._waiting
                          if all(need in self._results for need in self._needs[index])), None)
            if ready is not None:
                self._waiting.remove(ready)
                self._running.add(ready)
                return ready
            if not self._running:  # nothing can ever finish: a dependency outside the graph
                missing = {need for index in self._waiting for need in self._needs[index]} - set(self._results)
                self._failure = RuntimeError(f"stages {self._waiting} wait for stages {sorted(missing)}")
                break
            self._changed.wait()
        self._changed.notify_all()  # wake the other workers: they may have to stop too
        return None

    def _fail(self, failure: BaseException) -> None:
        with self._changed:
            first = self._failure is None and not isinstance(failure, StageCancelled)
            if first:
                self._failure = failure
            self._changed.notify_all()
        if first:
            self._cancel()
