"""``COPY --from=IMAGE``: the image is resolved once per build, however many steps read it."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import BASE_REPOSITORY
from registry_commands_support import make_client

from builder.context.named import parse_build_contexts
from builder.events import PullStarted
from builder.frontend.dockerfile import DockerfileSource
from builder.frontend.plan import PlanRequest
from builder.services import open_services
from builder.solve import BuildRequest, build
from tests.support.images import flatten

pytestmark = pytest.mark.privileged


def pulled_build(tmp_path: Path, dockerfile: str, contexts: tuple[str, ...] = ()) -> tuple[Path, list[str]]:
    """A --pull build of ``dockerfile``: the image tree, and the refs of the pulls it reported.

    With --pull every resolution asks the registry, and each is a pull the build reports.
    """
    context = tmp_path / "context"
    context.mkdir()
    root = tmp_path / "root"
    events: list[object] = []
    result = build(BuildRequest(source=DockerfileSource("Dockerfile", None, dockerfile), context=context,
                                plan=PlanRequest(), pull=True, registry=make_client, max_parallel=2,
                                named_contexts=parse_build_contexts(contexts)),
                   open_services(root, emit=events.append))
    pulls = [event.ref for event in events if isinstance(event, PullStarted)]
    return flatten(root, result.image.image_id, tmp_path / "tree"), pulls


def test_two_copies_from_one_image_resolve_it_once(tmp_path: Path, base_registry: str) -> None:
    image = f"{base_registry}/{BASE_REPOSITORY}"
    tree, pulls = pulled_build(tmp_path, f"FROM scratch\nCOPY --from={image} /bin/busybox /first\n"
                                         f"COPY --from={image} /bin/busybox /second\n")
    assert pulls == [image]
    assert (tree / "first").read_bytes() == (tree / "second").read_bytes() != b""


def test_from_copy_from_and_mount_from_of_one_image_in_parallel_stages_resolve_it_once(
        tmp_path: Path, base_registry: str) -> None:
    image = f"{base_registry}/{BASE_REPOSITORY}"
    untagged = f"{base_registry}/{BASE_REPOSITORY.split(':')[0]}"  # the same reference, spelled otherwise
    tree, pulls = pulled_build(tmp_path, (
        f"FROM {image} AS one\nRUN echo one > /one\n"
        f"FROM {untagged} AS two\nRUN --mount=from={image},target=/m cp /m/bin/busybox /two\n"
        f"FROM {image}\nCOPY --from=one /one /one\nCOPY --from=two /two /two\n"
        f"COPY --from={untagged} /bin/busybox /copied\n"))
    assert len(pulls) == 1
    assert (tree / "one").read_bytes() == b"one\n"
    assert (tree / "two").read_bytes() == (tree / "copied").read_bytes() == (tree / "bin/busybox").read_bytes()


def test_a_named_image_context_and_a_copy_from_the_same_image_resolve_it_once(
        tmp_path: Path, base_registry: str) -> None:
    image = f"{base_registry}/{BASE_REPOSITORY}"
    tree, pulls = pulled_build(tmp_path, f"FROM base\nCOPY --from={image} /bin/busybox /copied\n",
                               contexts=(f"base=docker-image://{image}",))
    assert len(pulls) == 1
    assert (tree / "copied").read_bytes() == (tree / "bin/busybox").read_bytes() != b""
