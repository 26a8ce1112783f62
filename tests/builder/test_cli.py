"""The command line: sub-command dispatch, Dockerfile lookup, errors without tracebacks."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from builder.cli import split_command

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "command", "rest"),
    [
        (["-f", "Dockerfile", "."], "build", ["-f", "Dockerfile", "."]),
        (["build", "."], "build", ["."]),
        (["build", "run/"], "build", ["run/"]),
        (["--root", "/tmp/r", "build", "."], "build", ["--root", "/tmp/r", "."]),
        (["--root=/tmp/r", "-t", "x", "."], "build", ["--root=/tmp/r", "-t", "x", "."]),
        (["ctx"], "build", ["ctx"]),
    ],
)
def test_split_command_defaults_to_build(argv: list[str], command: str, rest: list[str]) -> None:
    assert split_command(argv) == (command, rest)


def pybuild(*args: str, stdin: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "builder.cli", *args],
        input=stdin, capture_output=True, text=True, cwd=cwd, timeout=60,
    )


def test_check_accepts_a_valid_dockerfile(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo hi\n")
    result = pybuild("--check", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "no warnings" in result.stderr


def test_check_reads_the_dockerfile_from_stdin(tmp_path: Path) -> None:
    result = pybuild("--check", "-f", "-", str(tmp_path), stdin="FROM busybox\nCMD [\"sh\"]\n")
    assert result.returncode == 0, result.stderr


def test_lowercase_dockerfile_is_found_when_Dockerfile_is_missing(tmp_path: Path) -> None:
    (tmp_path / "dockerfile").write_text("FROM busybox\n")
    assert pybuild("--check", str(tmp_path)).returncode == 0


def test_missing_dockerfile_is_a_clear_error(tmp_path: Path) -> None:
    result = pybuild("--check", str(tmp_path))
    assert result.returncode == 2
    assert "no such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_syntax_error_names_file_and_line_and_shows_a_snippet(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM busybox\nRUN true\nFOO bar\nRUN true\n")
    result = pybuild("--check", "-f", str(dockerfile), str(tmp_path))
    assert result.returncode == 2
    assert f"{dockerfile}:3: unknown instruction: FOO" in result.stderr
    assert ">>> FOO bar" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_target_suggests_the_closest_stage(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox AS build\nFROM busybox AS final\n")
    result = pybuild("--check", "--target", "bulid", str(tmp_path))
    assert result.returncode == 2
    assert 'target stage "bulid" could not be found (did you mean build?)' in result.stderr


def test_rawjson_progress_writes_one_json_object_per_event() -> None:
    import io
    import json

    from builder.console import Console, JsonEventView
    from builder.events import StepLog, StepStarted

    err = io.StringIO()
    view = JsonEventView(Console(err=err, out=io.StringIO(), color=False))
    view(StepStarted(1, "[stage-0 2/3] RUN true", 2))
    view(StepLog(1, "stdout", b"caf\xc3\xa9 \xff\n"))
    lines = [json.loads(line) for line in err.getvalue().splitlines()]
    assert lines[0] == {"type": "StepStarted", "step_id": 1, "title": "[stage-0 2/3] RUN true", "line": 2}
    assert lines[1]["type"] == "StepLog" and lines[1]["data"].startswith("café ")


def test_the_program_collects_no_garbage_while_it_starts_then_collects_as_usual(tmp_path: Path) -> None:
    script = (
        "import gc, sys, time\n"
        "from builder import cli\n"
        "cli.START_UP_SECONDS = 0.3\n"
        f"sys.argv = ['pybuild', '--root', {str(tmp_path)!r}, 'images']\n"
        "cli.main()\n"
        "during = gc.isenabled()\n"
        "time.sleep(0.6)\n"
        "print(during, gc.isenabled(), gc.get_freeze_count() > 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.split()[-3:] == ["False", "True", "True"]


def test_a_caller_of_main_keeps_its_collector(tmp_path: Path) -> None:
    import gc

    from builder import cli

    assert cli.main(["--root", str(tmp_path), "images"]) == 0
    assert gc.isenabled()
