"""The image config each instruction produces (BuildKit's dispatch rules)."""
from __future__ import annotations

import pytest

from builder.errors import PlanError
from builder.image.config import DEFAULT_PATH, StageConfig, apply, expand_port_spec, normalize_workdir, start_stage
from grammar import parse_dockerfile, parse_nodes
from registry_client import ImageConfig, Platform

BASE = ImageConfig(platform=Platform("linux", "amd64"), env=("PATH=/bin", "HOME=/root"), cmd=("sh",),
                   onbuild=("RUN echo parent",))


def config_after(body: str, base: ImageConfig = BASE) -> ImageConfig:
    dockerfile = parse_dockerfile(parse_nodes(f"FROM base\n{body}"))
    state: StageConfig = start_stage(base)
    for instruction in dockerfile.stages[0].body:
        state = apply(state, instruction)
    return state.config


def test_start_consumes_base_triggers_and_keeps_path() -> None:
    config = config_after("")
    assert config.onbuild is None
    assert config.env == ("PATH=/bin", "HOME=/root")


def test_default_path_is_added_when_the_base_has_none() -> None:
    config = config_after("", ImageConfig(platform=Platform("linux", "amd64")))
    assert config.env == (DEFAULT_PATH,)


def test_env_replaces_in_place_and_appends() -> None:
    assert config_after("ENV HOME=/home/app NEW=1").env == ("PATH=/bin", "HOME=/home/app", "NEW=1")


def test_entrypoint_drops_an_inherited_cmd() -> None:
    config = config_after('ENTRYPOINT ["/app"]')
    assert config.entrypoint == ("/app",)
    assert config.cmd is None


def test_entrypoint_keeps_a_cmd_set_in_the_same_stage() -> None:
    config = config_after('CMD ["--help"]\nENTRYPOINT ["/app"]')
    assert (config.entrypoint, config.cmd) == (("/app",), ("--help",))


def test_shell_form_uses_the_current_shell() -> None:
    config = config_after('SHELL ["/bin/bash", "-eo", "pipefail", "-c"]\nCMD echo hi')
    assert config.cmd == ("/bin/bash", "-eo", "pipefail", "-c", "echo hi")
    assert config.args_escaped


def test_empty_entrypoint_is_nil_and_empty_cmd_is_empty() -> None:
    config = config_after("ENTRYPOINT []\nCMD []")
    assert config.entrypoint is None
    assert config.cmd == ()


def test_expose_labels_volumes_user_stopsignal() -> None:
    config = config_after('EXPOSE 80 53/udp\nLABEL a=1 b="2"\nVOLUME ["/data"]\nUSER app:app\nSTOPSIGNAL SIGTERM')
    assert config.exposed_ports == ("53/udp", "80/tcp")
    assert dict(config.labels) == {"a": "1", "b": '"2"'}  # raw: expansion removes quotes, not this layer
    assert config.volumes == ("/data",)
    assert (config.user, config.stop_signal) == ("app:app", "SIGTERM")


def test_healthcheck_and_onbuild() -> None:
    config = config_after("HEALTHCHECK --interval=5s CMD curl -f http://x/\nONBUILD RUN make")
    assert dict(config.healthcheck or {}) == {"Test": ["CMD-SHELL", "curl -f http://x/"], "Interval": 5_000_000_000}
    assert config.onbuild == ("RUN make",)


@pytest.mark.parametrize(("current", "wanted", "result"), [
    ("", "/app", "/app"), ("/app", "src", "/app/src"), ("/app", "../x/./y/", "/x/y"), ("", "rel", "/rel"),
    ("/", "//double", "/double"),
])
def test_workdir_normalisation(current: str, wanted: str, result: str) -> None:
    assert normalize_workdir(current, wanted) == result


def test_port_specs() -> None:
    assert expand_port_spec("1000-1002/udp") == ["1000/udp", "1001/udp", "1002/udp"]
    assert expand_port_spec("127.0.0.1:8080:80") == ["80/tcp"]
    with pytest.raises(PlanError):
        expand_port_spec("80/xyz")
