"""The progress views take events from several threads at once (stages built in parallel) while
rich's refresh thread draws: nothing may break, and nothing may be lost."""
from __future__ import annotations

import io
import json
import threading

from builder.console import BuildView, Console, JsonEventView, LiveBuildView
from builder.events import StepFinished, StepLog, StepStarted

STAGES, LINES = 4, 300


def emit_stage(view: object, stage: int) -> None:
    step_id = stage + 1
    view(StepStarted(step_id, f"[s{stage} 2/2] RUN work"))  # type: ignore[operator]
    for number in range(LINES):
        view(StepLog(step_id, "stdout", f"s{stage} line {number}\n".encode()))  # type: ignore[operator]
    view(StepFinished(step_id, 0.1, cancelled=stage == 0))  # type: ignore[operator]


def emit_from_threads(view: object) -> None:
    threads = [threading.Thread(target=emit_stage, args=(view, stage)) for stage in range(STAGES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_live_view_draws_while_stages_report_from_threads() -> None:
    stream = io.StringIO()
    view = LiveBuildView(Console(err=stream, color=True))
    failures: list[BaseException] = []
    done = threading.Event()

    def draw() -> None:  # as rich's refresh thread does, but without pause
        while not done.is_set():
            try:
                view._render()
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                failures.append(exc)
                return

    drawer = threading.Thread(target=draw)
    with view:
        drawer.start()
        emit_from_threads(view)
        done.set()
        drawer.join()
    assert not failures
    text = stream.getvalue()
    assert all(f"[s{stage} 2/2] RUN work" in text for stage in range(STAGES))
    assert "CANCELED" in text


def test_plain_log_keeps_every_line_whole_and_prefixed() -> None:
    stream = io.StringIO()
    emit_from_threads(BuildView(Console(err=stream, color=False)))
    lines = stream.getvalue().splitlines()
    for stage in range(STAGES):
        mine = [line for line in lines if line.startswith(f"#{stage + 1} ")]
        assert sum(f"s{stage} line " in line for line in mine) == LINES
        assert mine[0] == f"#{stage + 1} [s{stage} 2/2] RUN work"
    assert "#1 CANCELED" in lines


def test_json_view_writes_one_valid_object_per_line() -> None:
    stream = io.StringIO()
    emit_from_threads(JsonEventView(Console(err=stream, color=False)))
    documents = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(documents) == STAGES * (LINES + 2)
    assert sum(document.get("cancelled") is True for document in documents) == 1
