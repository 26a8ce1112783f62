"""The cache keys of ``COPY --from`` / ``RUN --mount from=`` steps, and what ``--explain`` says when they miss.

The keys are pinned: they name cache entries that earlier builds (and exported caches) hold, so a
change of how they are computed must be a deliberate schema change (``builder.cache.keys``).
"""
from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from builder.cache.explain import record_path
from builder.cache.index import CacheIndex
from builder.cache.keys import CacheKey, key_for
from builder.events import StepCacheMiss, StepStarted
from builder.frontend.dockerfile import DockerfileSource
from builder.frontend.plan import PlanRequest
from builder.services import open_services
from builder.solve import BuildRequest, build
from tests.support.images import import_busybox

privileged = pytest.mark.privileged

PINNED = """\
FROM scratch AS files
COPY . /

FROM scratch
COPY --from=files /a.txt /b
COPY --from=files --exclude=*.log /d/ /e/
"""
# Computed before the --from material was reworked (SCHEMA 2): the same Dockerfile, context and platform.
PINNED_KEYS = {  # content key (the step's key) -> fast key (its alias, naming the source by its layers)
    "6e8989b7a19dd1bf9b6999637d1d8ecc24b38d68b6c71a8bd556415e90d62a4e":  # COPY --from=files /a.txt /b
        "c14f8e19cfc2ee7b6f000a9ad2c434a3e66b749b270f95b18ee8a0ac6614f682",
    "4a7c958b961b5cb709233948b294a06d47c15ace8c4fc679de0f4b8b86335218":  # COPY --from=files --exclude=*.log /d/ /e/
        "ebdbf429230cf6dbfc8bd9660abe6f40c0f1c272c6a44c75eded814609d5dd21",
}


def _step_keys(root: Path) -> dict[str, str]:
    """content key -> fast key of every fast-key alias in the root's cache index."""
    return {entry.record.content_key: entry.key.hex for entry in CacheIndex(root).entries()
            if entry.record.content_key is not None}


@privileged
def test_a_simple_copy_from_keeps_its_keys(tmp_path: Path) -> None:
    context = _pinned_context(tmp_path)
    root = tmp_path / "root"
    build(BuildRequest(source=DockerfileSource("Dockerfile", None, PINNED), context=context,
                       plan=PlanRequest(platform="linux/amd64"), source_date_epoch=0), open_services(root))
    assert _step_keys(root) == PINNED_KEYS


def _pinned_context(tmp_path: Path) -> Path:
    """Files whose layer (made with SOURCE_DATE_EPOCH=0) has the same diff_id on every machine."""
    context = tmp_path / "context"
    context.mkdir()
    (context / "d").mkdir()
    for name, text in (("a.txt", "pinned\n"), ("d/x.txt", "kept\n"), ("d/y.log", "excluded\n")):
        (context / name).write_text(text)
        os.chmod(context / name, 0o644)
        os.utime(context / name, (1_600_000_000, 1_600_000_000))
    os.chmod(context / "d", 0o755)
    os.utime(context / "d", (1_600_000_000, 1_600_000_000))
    return context


MOUNTED = """FROM scratch AS files
COPY . /

FROM busybox:local
RUN --mount=type=bind,from=files,source=/d,target=/m cat /m/x.txt > /x
"""
PINNED_MOUNT_CONTENT = "content:sha256:932c8aa26a6015a1d27d23ce58504edc85d225f00f7285740e183dcecdfe6a8a"  # what the mounted files add to the RUN's key
PINNED_MOUNT_LAYERS = "layers:dc38f2079010297cc8160ccb9542e1c7db537837ca90bf983155bbf2d548b003"  # the same files named by the source's layers (the fast key)


@privileged
def test_a_run_mount_from_a_stage_keeps_its_keys(built_root: Path, tmp_path: Path) -> None:
    """The base image (busybox) differs between machines: the mount's part of the material is pinned."""
    context = _pinned_context(tmp_path)
    build(BuildRequest(source=DockerfileSource("Dockerfile", None, MOUNTED), context=context,
                       plan=PlanRequest(platform="linux/amd64"), source_date_epoch=0), open_services(built_root))
    (step,) = [s for s in _explain_steps(built_root, context) if s["material"].get("op") == "run"]
    material = step["material"]
    assert material["mounts"][0]["from"] == PINNED_MOUNT_CONTENT
    assert key_for(CacheKey(step["parent"]), material).hex == step["key"]
    fast = {**material, "mounts": [{**material["mounts"][0], "from": PINNED_MOUNT_LAYERS}]}
    assert _step_keys(built_root)[step["key"]] == key_for(CacheKey(step["parent"]), fast).hex


def _explain_steps(root: Path, context: Path) -> list[dict]:
    """The steps the last build from ``context`` recorded for ``--explain`` (key, parent, material)."""
    document = json.loads(record_path(root, f"stdin:{context}", "").read_text())
    return document["steps"]


# ---------------------------------------------------------------- --explain for steps that read other stages

STAGES = """\
FROM busybox:local AS build
RUN echo "{text}" > /out

FROM busybox:local AS mounted
RUN --mount=type=bind,from=build,source=/out,target=/mnt/out cat /mnt/out > /copied

FROM busybox:local
COPY --from=build /out /out
COPY --from=mounted /copied /copied
"""


def _explained(root: Path, context: Path, dockerfile: str) -> tuple[dict[str, str], dict[str, int]]:
    """(reason of each missed step, step id of each step), by the instruction part of the step's title."""
    events: list = []
    build(BuildRequest(source=DockerfileSource("Dockerfile", None, dockerfile), context=context),
          open_services(root, emit=events.append))
    titles = {e.step_id: e.title.split("] ", 1)[1] for e in events if isinstance(e, StepStarted)}
    return ({titles[e.step_id]: e.reason for e in events if isinstance(e, StepCacheMiss)},
            {title: step_id for step_id, title in titles.items()})


@privileged
def test_a_step_reading_a_stage_that_missed_names_the_stage(built_root: Path, tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    _explained(built_root, context, STAGES.format(text=f"one {context.name}"))
    assert _explained(built_root, context, STAGES.format(text=f"one {context.name}"))[0] == {}  # all cached

    changed = STAGES.format(text=f"two {context.name}")
    reasons, ids = _explained(built_root, context, changed)
    source_run = f'RUN echo "two {context.name}" > /out'
    assert reasons == {
        source_run: "instruction changed (command)",
        "RUN --mount=type=bind,from=build,source=/out,target=/mnt/out cat /mnt/out > /copied":
            f"because stage build missed (step #{ids[source_run]})",
        "COPY --from=build /out /out": f"because stage build missed (step #{ids[source_run]})",
        "COPY --from=mounted /copied /copied": f"because step #{ids[source_run]} missed",
    }


SOURCE_IMAGE = """\
FROM exsource:local AS src

FROM busybox:local
COPY --from=src /etc/explain-marker /marker
RUN --mount=type=bind,from=src,source=/etc,target=/mnt cat /mnt/explain-marker > /copied
"""


@privileged
def test_a_cached_source_stage_with_other_files_says_the_selected_files_changed(
        tmp_path: Path, busybox_tar: Path) -> None:
    """The source stage has no step of its own to miss: its base image changed under the same tag.

    The build in between hits through the fast keys (the source's layers), which never checksum the
    files: the record keeps the checksums of the build before, so the last build can compare them.
    """
    root = tmp_path / "root"
    import_busybox(root, busybox_tar)
    context = tmp_path / "context"
    context.mkdir()
    for marker in ("old", "new"):
        marked = tmp_path / f"{marker}.tar"
        shutil.copy(busybox_tar, marked)
        with tarfile.open(marked, "a") as tar:
            info = tarfile.TarInfo("etc/explain-marker")
            info.size = len(marker)
            tar.addfile(info, io.BytesIO(marker.encode()))
        import_busybox(root, marked, "exsource:local")
        reasons, ids = _explained(root, context, SOURCE_IMAGE)
        if marker == "old":
            assert _explained(root, context, SOURCE_IMAGE)[0] == {}  # all cached, through the fast keys
    assert reasons == {
        "COPY --from=src /etc/explain-marker /marker": "selected files changed (--from=src)",
        "RUN --mount=type=bind,from=src,source=/etc,target=/mnt cat /mnt/explain-marker > /copied":
            f"because step #{ids['COPY --from=src /etc/explain-marker /marker']} missed; "
            "selected files changed (RUN --mount from=src /mnt)",
    }
