"""Everything pybuild shows to a person. The only module besides cli.py that may use rich.

A terminal gets rich's colours; pipes and CI logs get plain lines. rich costs tens of
milliseconds to import, so it is imported only when a terminal is attached.
"""
from __future__ import annotations

import sys
from typing import Any, TextIO


class Console:
    """Writes messages to stderr and results (JSON, IDs) to stdout."""

    def __init__(self, err: TextIO | None = None, out: TextIO | None = None, *, color: bool | None = None) -> None:
        self._err = err or sys.stderr
        self._out = out or sys.stdout
        wants_color = self._err.isatty() if color is None else color
        self._rich: Any = None
        if wants_color:
            from rich.console import Console as RichConsole

            self._rich = RichConsole(file=self._err, highlight=False)

    @property
    def is_terminal(self) -> bool:
        """Whether a person is watching (rich is active): live views instead of log lines."""
        return self._rich is not None

    def _line(self, style: str, label: str, text: str) -> None:
        if self._rich is not None:
            from rich.markup import escape

            self._rich.print(f"[{style}]{label}[/{style}] {escape(text)}" if label else escape(text))
        else:
            self._err.write(f"{label} {text}\n" if label else f"{text}\n")

    def error(self, message: str, snippet: str = "") -> None:
        self._line("bold red", "ERROR:", message)
        if snippet:
            self._line("", "", snippet)

    def warning(self, message: str, snippet: str = "") -> None:
        self._line("yellow", "WARNING:", message)
        if snippet:
            self._line("", "", snippet)

    def info(self, message: str) -> None:
        self._line("", "", message)

    def result_json(self, document: Any) -> None:
        import json  # only here: most commands never print JSON, and json costs start-up time

        self._out.write(json.dumps(document, indent=2, sort_keys=False) + "\n")
        self._out.flush()

    def result_line(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def ask(self, question: str, *, secret: bool = False) -> str:
        """The answer typed after ``question`` on stdin (not echoed when ``secret``), stripped."""
        if secret:
            import getpass

            return getpass.getpass(question, stream=self._err)
        self._err.write(question)
        self._err.flush()
        return sys.stdin.readline().strip()


class TransferView:
    """Shows pull and push progress events: a rich bar per layer with bytes and speed on a
    terminal, one plain line per finished layer otherwise (CI logs, pipes).

    It is an ``EventSink`` and may be called from download threads. Use it as a context
    manager so that the live display starts before and stops after the transfer.
    """

    def __init__(self, console: Console) -> None:
        import threading

        self._console = console
        self._lock = threading.Lock()
        self._tasks: dict[str, Any] = {}
        # docker names layers already present only when the image is new: held until a byte moves
        self._held: list[Any] | None = []
        self._progress: Any = None
        if console._rich is not None:
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                      TransferSpeedColumn(), console=console._rich)

    def __enter__(self) -> TransferView:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, event: Any) -> None:
        from builder.events import PullFinished, PullProgress, PullStarted, PushProgress, PushStarted

        if isinstance(event, PullStarted):
            self._say(f"{event.identifier}: Pulling from {event.repository}")
        elif isinstance(event, PushStarted):
            self._say(f"The push refers to repository [{event.repository}]")
        elif isinstance(event, PullProgress):
            self._pulled(event)
        elif isinstance(event, PushProgress) and event.is_layer:
            self._layer(event, pulling=False)
        elif isinstance(event, PullFinished):
            self._release_held(show=event.downloaded)  # an image already here: no layer lines, as docker

    def _pulled(self, event: Any) -> None:
        with self._lock:
            if self._held is not None and event.cached:
                self._held.append(event)
                return
        self._release_held(show=True)  # a byte moves: the image is new
        if event.is_layer:
            self._layer(event, pulling=True)

    def _release_held(self, *, show: bool) -> None:
        with self._lock:
            held, self._held = self._held, None
        for event in (held or ()) if show else ():
            if event.is_layer:
                self._layer(event, pulling=True)

    def _say(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, highlight=False, markup=False)
        else:
            with self._lock:
                self._console.info(text)

    def _layer(self, event: Any, *, pulling: bool) -> None:
        short = event.digest.split(":", 1)[-1][:12]
        status = _layer_status(event, pulling)
        if self._progress is None:
            if status:
                self._say(f"{short}: {status}")
            return
        with self._lock:
            task = self._tasks.get(event.digest)
            if task is None:
                task = self._tasks[event.digest] = self._progress.add_task(short, total=event.total or None)
        self._progress.update(task, completed=event.done, description=f"{short} {status}".rstrip())


def _layer_status(event: Any, pulling: bool) -> str:
    if not event.finished:
        return ""
    if event.cached:
        return "Already exists" if pulling else "Layer already exists"
    return "Pull complete" if pulling else "Pushed"


class BuildView:
    """Build progress as BuildKit's plain log: ``#N [stage i/n] RUN ...``, output lines, ``#N DONE 0.3s``.

    It is an event sink; RUN output arrives from the runtime's pump, so writes are locked.
    ``quiet`` shows nothing but failures (``-q``): their step title and the tail of their output.
    """

    TAIL_LINES = 20

    def __init__(self, console: Console, *, quiet: bool = False) -> None:
        import threading
        import time

        self._console = console
        self._quiet = quiet
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._titles: dict[int, str] = {}
        self._tails: dict[int, list[str]] = {}
        self._partial: dict[int, str] = {}
        self._last_miss: str | None = None

    def __call__(self, event: Any) -> None:
        kind = type(event).__name__
        with self._lock:
            handler = getattr(self, f"_on_{kind}", None)
            if handler is not None:
                handler(event)

    def _say(self, text: str) -> None:
        if not self._quiet:
            self._console.info(text)

    def _on_StepStarted(self, event: Any) -> None:
        self._titles[event.step_id] = event.title
        self._say(f"#{event.step_id} {event.title}")

    def _on_StepCached(self, event: Any) -> None:
        self._say(f"#{event.step_id} CACHED")

    def _on_StepCacheMiss(self, event: Any) -> None:
        # The same reason on every step (a first build, --no-cache) is said once, not per step.
        if event.reason == self._last_miss and "because step" not in event.reason:
            return
        self._last_miss = event.reason
        self._say(f"#{event.step_id} cache miss: {event.reason}")

    def _on_StepLog(self, event: Any) -> None:
        import time

        text = self._partial.pop(event.step_id, "") + event.data.decode(errors="replace")
        *lines, rest = text.split("\n")
        if rest:
            self._partial[event.step_id] = rest
        tail = self._tails.setdefault(event.step_id, [])
        for line in lines:
            tail.append(line)
            del tail[:-self.TAIL_LINES]
            self._say(f"#{event.step_id} {time.monotonic() - self._started:.3f} {line}")

    def _on_StepFinished(self, event: Any) -> None:
        if event.cancelled:
            self._say(f"#{event.step_id} CANCELED")
        elif event.error:
            if self._quiet:
                self._console.info(f"#{event.step_id} {self._titles.get(event.step_id, '')}")
                for line in self._tails.get(event.step_id, []):
                    self._console.info(f"#{event.step_id} {line}")
            self._console.info(f"#{event.step_id} ERROR: {event.error}")
        else:
            self._say(f"#{event.step_id} DONE {event.duration:.1f}s")

    def _on_PullStarted(self, event: Any) -> None:
        self._say(f"#0 pulling {event.ref}")

    def _on_PullFinished(self, event: Any) -> None:
        self._say(f"#0 pulled {event.ref} ({event.digest})")

    def _on_BuildWarning(self, event: Any) -> None:
        location = f"line {event.line}: " if event.line else ""
        self._console.warning(f"{location}{event.message}")


class LiveBuildView:
    """The terminal view of a build: BuildKit-like step list with timers, CACHED marks and the
    last lines of the running steps' output, redrawn in place by rich's ``Live``.

    Use as a context manager around the build; it is an event sink (thread-safe).
    """

    OUTPUT_LINES = 6

    def __init__(self, console: Console) -> None:
        import threading
        import time
        from collections import deque

        from rich.live import Live

        self._console = console
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._rows: dict[int, dict[str, Any]] = {}
        self._deque = deque
        self._live = Live(console=console._rich, refresh_per_second=8, transient=False,
                          get_renderable=self._render)

    def __enter__(self) -> LiveBuildView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._live.__exit__(*exc_info)  # type: ignore[arg-type]

    def __call__(self, event: Any) -> None:
        import time

        kind = type(event).__name__
        with self._lock:
            if kind == "StepStarted":
                self._rows[event.step_id] = {"title": event.title, "start": time.monotonic(), "status": "",
                                             "tail": self._deque(maxlen=self.OUTPUT_LINES), "duration": None}
            elif kind in ("StepCached", "StepCacheMiss", "StepLog", "StepFinished") and event.step_id in self._rows:
                row = self._rows[event.step_id]
                if kind == "StepCached":
                    row["status"] = "CACHED"
                elif kind == "StepCacheMiss":
                    row["miss"] = event.reason
                elif kind == "StepLog":
                    row["tail"].extend(event.data.decode(errors="replace").splitlines())
                else:
                    row["duration"] = event.duration
                    row["status"] = ("CANCELED" if event.cancelled else "ERROR" if event.error
                                     else (row["status"] or "DONE"))
                    if event.error:
                        row["tail"].append(event.error)
            elif kind == "PullProgress" and event.is_layer and event.total:
                self._rows.setdefault(-1, {"title": f"pulling {event.ref}", "start": time.monotonic(),
                                           "status": "", "tail": self._deque(maxlen=1), "duration": None})
                self._rows[-1]["tail"].append(f"{event.digest[:19]} {event.done >> 20}/{event.total >> 20} MB")

    def _render(self) -> Any:
        import time

        from rich.console import Group
        from rich.text import Text

        with self._lock:  # copies: worker threads keep changing the rows and their tails while we draw
            rows = [{**row, "tail": list(row["tail"])} for row in self._rows.values()]
        done = sum(1 for row in rows if row["duration"] is not None)
        lines = [Text(f"[+] Building {time.monotonic() - self._started:.1f}s ({done}/{len(rows)})", style="bold")]
        for row in rows:
            elapsed = row["duration"] if row["duration"] is not None else time.monotonic() - row["start"]
            style = {"CACHED": "cyan", "ERROR": "bold red", "CANCELED": "red", "DONE": "blue"}.get(row["status"],
                                                                                                  "yellow")
            status = f" {row['status']}" if row["status"] in ("CACHED", "ERROR", "CANCELED") else ""
            lines.append(Text(f" => {row['title'][:100]}{status}  {elapsed:.1f}s", style=style))
            if row.get("miss"):
                lines.append(Text(f"    cache miss: {row['miss'][:120]}", style="magenta"))
            if row["duration"] is None or row["status"] == "ERROR":
                lines += [Text(f"    {line[:120]}", style="dim") for line in row["tail"]]
        return Group(*lines)


class JsonEventView:
    """``--progress rawjson``: every event as one JSON object per line on stderr, for tools.

    Each object has ``type`` (the event class) and the event's fields; output bytes are text
    (undecodable bytes escaped), so a line is always valid JSON.
    """

    def __init__(self, console: Console) -> None:
        import threading

        self._console = console
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        import dataclasses
        import json

        fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
        document = {"type": type(event).__name__,
                    **{k: v.decode(errors="backslashreplace") if isinstance(v, bytes) else v
                       for k, v in fields.items()}}
        with self._lock:
            self._console.info(json.dumps(document, default=str))
