"""The CLI side of ``builder.replay.records``: when a build may be replayed, the key, and the record."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from builder.frontend.dockerfile import DockerfileSource
from builder.frontend.request import PlanRequest
from builder.replay.records import RECORD_VERSION, context_record, request_key, signature, try_replay, write_record

IGNORE_FILE = ".dockerignore"


def replayable(options: argparse.Namespace) -> bool:
    """Only the default output, with the cache allowed, no registry check or cache transfer, replays."""
    return not (options.no_cache or options.pull or getattr(options, "outputs", None)
                or getattr(options, "push", False) or getattr(options, "metadata_file", None)
                or getattr(options, "cache_to", None) or getattr(options, "cache_from", None)
                or getattr(options, "build_contexts", None)  # named contexts live outside the recorded context
                or getattr(options, "context_origin", None)  # stdin and git contexts are temporary copies
                or os.environ.get("PYBUILD_NO_REPLAY"))


def key_for(options: argparse.Namespace, source: DockerfileSource, plan: PlanRequest) -> str:
    return request_key({
        "dockerfile": source.text, "path": source.display_path,
        "context": os.path.realpath(options.context),
        "build_args": dict(sorted(plan.build_args.items())), "target": plan.target, "platform": plan.platform,
        "tags": list(options.tags), "labels": list(options.label), "network": options.network,
        "add_hosts": list(getattr(options, "add_hosts", [])),
        "shm_size": getattr(options, "shm_size", 0), "ulimits": [str(u) for u in getattr(options, "ulimits", [])],
        "allow": sorted(getattr(options, "allow", [])),
        "no_cache_filter": sorted(options.no_cache_filter), "uid": os.geteuid(),
        "epoch": os.environ.get("SOURCE_DATE_EPOCH"), "machine": os.uname().machine,
    })


def watched_files(options: argparse.Namespace, source: DockerfileSource) -> list[str]:
    """Files outside the recorded context paths whose appearance or change alters the build."""
    files = [os.path.join(options.context, IGNORE_FILE)]
    if source.path is not None:
        files.append(f"{source.path}{IGNORE_FILE}")
    return files


def replay_if_unchanged(options: argparse.Namespace, console: Any, source: DockerfileSource,
                        plan: PlanRequest) -> int | None:
    """Answer the build from its record and return the exit code, or None to build for real."""
    if not replayable(options):
        return None
    replay = try_replay(Path(options.root), key_for(options, source, plan))
    if replay is None:
        return None
    quiet = options.quiet or options.progress == "quiet"
    for warning in replay.warnings:
        console.warning(warning)
    if options.iidfile:
        Path(options.iidfile).write_text(replay.image_id)
    if quiet:
        console.result_line(replay.image_id)
        return 0
    for number, title in enumerate(replay.titles, start=1):
        console.info(f"#{number} {title}\n#{number} CACHED")
    console.info(f"writing image {replay.image_id} done")
    for tag in replay.tags:
        console.info(f"naming to {tag} done")
    return 0


def record_build(options: argparse.Namespace, source: DockerfileSource, plan: PlanRequest, services: Any,
                 image: Any, titles: list[str], warnings: list[str]) -> None:
    """Write the replay record of a finished build, unless it read something a record can't check."""
    journal = services.journal
    if not replayable(options) or journal.unrecordable:
        return
    names = {}
    for tag in image.tags:
        entry = services.images.resolve(tag)
        name = entry.annotations.get("org.opencontainers.image.ref.name") if entry is not None else None
        if name is None:
            return
        names[name] = str(image.manifest.digest)
    context = os.path.realpath(options.context)
    walked = journal.walked.walked_signature if journal.walked is not None and journal.walked.root == context else None
    write_record(Path(options.root), key_for(options, source, plan), {
        "v": RECORD_VERSION, "image_id": image.image_id, "manifest": str(image.manifest.digest),
        "layers": list(image.layers),
        "tags": list(image.tags), "tag_names": sorted(names), "titles": titles, "warnings": warnings,
        "context": context,
        **context_record(context, journal.context_paths, walked),
        "files": {path: signature(path) for path in watched_files(options, source)},
        "bases": dict(journal.bases),
    })
