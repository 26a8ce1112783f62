"""Fast unit tests behind the registry commands: settings, progress view, formatting, errors."""
from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest

from builder.commands.images import human_duration, human_size
from builder.console import Console, TransferView
from builder.errors import UsageError
from builder.events import PullFinished, PullProgress, PullStarted, PushProgress, PushStarted
from builder.registry_settings import load_settings
from builder.report import EXIT_REGISTRY, EXIT_USAGE, report_error
from registry_client import InvalidReference, MediaType, NotFound, RateLimited, registry_host

LAYER, CONFIG = MediaType.OCI_LAYER_GZIP, MediaType.OCI_CONFIG
DIGEST = "sha256:" + "ab" * 32


def plain_console() -> tuple[Console, io.StringIO]:
    err = io.StringIO()
    return Console(err=err, out=io.StringIO(), color=False), err


def test_settings_merge_flags_and_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYBUILD_CONFIG", raising=False)
    (tmp_path / "config.json").write_text(json.dumps({
        "registry-mirrors": ["https://mirror.example/"], "insecure-registries": ["10.0.0.0/8"],
        "max-concurrent-downloads": 5}))
    settings = load_settings(tmp_path, insecure=("reg.local:5000",), mirrors=("http://first.example",))
    assert settings.mirrors == ("http://first.example", "https://mirror.example")
    options = settings.options()
    assert options.is_insecure("reg.local:5000") and options.is_insecure("10.1.2.3:443")
    assert options.is_insecure("127.0.0.1:5000") and not options.is_insecure("docker.io")
    assert options.max_concurrent_downloads == 5


def test_settings_file_from_the_environment_and_its_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "daemon.json"
    monkeypatch.setenv("PYBUILD_CONFIG", str(path))
    with pytest.raises(UsageError, match="does not exist"):
        load_settings(tmp_path)
    path.write_text("{not json")
    with pytest.raises(UsageError, match="cannot read"):
        load_settings(tmp_path)
    path.write_text(json.dumps({"registry-mirrors": "one"}))
    with pytest.raises(UsageError, match="list of strings"):
        load_settings(tmp_path)
    path.write_text(json.dumps({"insecure-registries": ["a.example"]}))
    assert load_settings(tmp_path).insecure_registries == ("a.example",)


def test_plain_progress_prints_one_line_per_finished_layer() -> None:
    console, err = plain_console()
    with TransferView(console) as view:
        view(PullStarted("docker.io/library/busybox:latest", "library/busybox", "latest"))
        view(PullProgress("r", "sha256:" + "cd" * 32, LAYER, 7, 7, cached=True, finished=True))
        view(PullProgress("r", DIGEST, LAYER, 10, 100))
        view(PullProgress("r", DIGEST, LAYER, 100, 100, finished=True))
        view(PullProgress("r", DIGEST, CONFIG, 5, 5, finished=True))  # configs are not shown
        view(PullFinished("r", DIGEST, DIGEST, downloaded=True))
        view(PushStarted("reg/app:1", "reg/app"))
        view(PushProgress("reg/app:1", DIGEST, LAYER, 100, 100, cached=True, finished=True))
    assert err.getvalue().splitlines() == [
        "latest: Pulling from library/busybox", "cdcdcdcdcdcd: Already exists", "abababababab: Pull complete",
        "The push refers to repository [reg/app]", "abababababab: Layer already exists"]


def test_plain_progress_names_no_layer_of_an_image_already_here() -> None:
    # docker pull of an image it has: "Pulling from", then only Digest and Status (printed by the command)
    console, err = plain_console()
    with TransferView(console) as view:
        view(PullStarted("docker.io/library/busybox:latest", "library/busybox", "latest"))
        view(PullProgress("r", DIGEST, CONFIG, 5, 5, cached=True, finished=True))
        view(PullProgress("r", "sha256:" + "cd" * 32, LAYER, 7, 7, cached=True, finished=True))
        view(PullFinished("r", DIGEST, DIGEST, downloaded=False))
    assert err.getvalue().splitlines() == ["latest: Pulling from library/busybox"]


def test_progress_view_accepts_events_from_many_threads() -> None:
    console, err = plain_console()
    view = TransferView(console)

    def download(number: int) -> None:
        digest = f"sha256:{number:012x}{0:052x}"
        for done in range(0, 101, 10):
            view(PullProgress("r", digest, LAYER, done, 100, finished=done == 100))

    threads = [threading.Thread(target=download, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(err.getvalue().splitlines()) == sorted(f"{n:012x}: Pull complete" for n in range(8))


def test_rich_progress_view_renders_bars_on_a_terminal() -> None:
    err = io.StringIO()
    console = Console(err=err, out=io.StringIO(), color=True)
    with TransferView(console) as view:
        view(PullProgress("r", DIGEST, LAYER, 50 * 1000, 100 * 1000))
        view(PullProgress("r", DIGEST, LAYER, 100 * 1000, 100 * 1000, finished=True))
    assert "abababababab Pull complete" in err.getvalue() and "100.0/100.0 kB" in err.getvalue()


@pytest.mark.parametrize(("size", "text"), [(0, "0B"), (999, "999B"), (1500, "1.5kB"), (94_500, "94.5kB"),
                                            (4_260_000, "4.26MB"), (1_234_567_890, "1.23GB")])
def test_sizes_read_like_docker(size: int, text: str) -> None:
    assert human_size(size) == text


@pytest.mark.parametrize(("seconds", "text"), [(0.5, "Less than a second"), (1, "1 second"), (61, "About a minute"),
                                               (3700, "About an hour"), (5 * 3600, "5 hours"),
                                               (3 * 86400, "3 days"), (20 * 86400, "2 weeks"),
                                               (90 * 86400, "3 months"), (3 * 365 * 86400, "3 years")])
def test_durations_read_like_docker(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(("server", "host"), [
    (None, "docker.io"), ("https://index.docker.io/v1/", "docker.io"), ("registry-1.docker.io", "docker.io"),
    ("localhost:5000", "localhost:5000"), ("https://reg.example:8443/v2/", "reg.example:8443"),
])
def test_login_server_names(server: str | None, host: str) -> None:
    assert registry_host(server) == host


def test_registry_errors_become_one_line_and_exit_code_3() -> None:
    console, err = plain_console()
    limited = RateLimited("registry-1.docker.io: too many requests (HTTP 429 TOOMANYREQUESTS); "
                          "the limit resets in about 3600 s", ref="docker.io/library/busybox:latest")
    assert report_error(limited, console) == EXIT_REGISTRY
    assert report_error(NotFound("manifest unknown", ref="docker.io/library/x:1"), console) == EXIT_REGISTRY
    assert report_error(InvalidReference("invalid reference format: 'A'"), console) == EXIT_USAGE
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("ERROR: docker.io/library/busybox:latest: registry-1.docker.io: too many requests")
    assert "resets in about 3600 s" in lines[0]
    assert lines[1] == "ERROR: docker.io/library/x:1: manifest unknown"


def test_an_unwritable_root_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from builder.commands.common import run_reporting

    def body(console: Console) -> int:
        raise PermissionError(13, "Permission denied", "/var/lib/pybuild/index.json")

    assert run_reporting(body) == EXIT_USAGE
    assert "Permission denied: /var/lib/pybuild/index.json (choose another state directory with --root)" in \
        capsys.readouterr().err
