"""``pybuild cache prune`` and the GC drop the COPY --from content-digest memos of chains nothing holds.

A memo is kept while a cache record or a stored image holds its layer chain; the memos of the
layout before chain directories (flat files) go at the first prune.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from builder.cache.gc import collect_if_needed
from builder.cache.prune import PrunePolicy, prune_cache
from builder.cache.settings import GcPolicy
from builder.copy.source_digest import chain_name
from builder.frontend.dockerfile import DockerfileSource
from builder.frontend.plan import PlanRequest
from builder.services import Services, open_services
from builder.solve import BuildRequest, build
from tests.support.images import flatten, import_busybox

pytestmark = pytest.mark.privileged

DOCKERFILE = """\
FROM busybox:local AS tools
FROM scratch AS files
COPY . /
FROM scratch
COPY --from=files /a.txt /a
COPY --from=tools /bin/busybox /busybox
"""
FLAT_MEMO = "ab" * 32  # a memo as builds wrote them before the chain directories


def _build(services: Services, context: Path) -> str:
    return build(BuildRequest(source=DockerfileSource("Dockerfile", None, DOCKERFILE), context=context,
                              plan=PlanRequest()), services).image.image_id


def _chains(selections: Path) -> set[str]:
    return {path.name for path in selections.iterdir() if path.is_dir()}


def test_prune_keeps_the_memos_of_held_chains_only(tmp_path: Path, busybox_tar: Path) -> None:
    root = tmp_path / "root"
    import_busybox(root, busybox_tar)
    context = tmp_path / "context"
    context.mkdir()
    (context / "a.txt").write_text("a\n")
    services = open_services(root)
    first = _build(services, context)
    selections = root / "cache" / "selections"
    busybox = chain_name([str(d) for d in services.images.image("busybox:local").config.diff_ids])
    files = _chains(selections) - {busybox}
    assert busybox in _chains(selections) and len(files) == 1  # one memo per --from source read
    (selections / FLAT_MEMO).write_text("sha256:" + "0" * 64)

    kept = prune_cache(services, PrunePolicy(unused_for=3600))  # every record was used just now
    assert (kept.records, kept.selection_memos) == (0, 1)  # only the flat memo, whose chain is unknown
    assert _chains(selections) == {busybox, *files} and not (selections / FLAT_MEMO).exists()

    everything = prune_cache(services, PrunePolicy())
    assert everything.records > 0 and everything.selection_memos == 1  # the files stage's chain is gone
    assert _chains(selections) == {busybox}  # the image in the store still holds its chain
    assert (selections / "files.marshal").is_file()  # the file-digest table is no memo

    services = open_services(root)
    again = _build(services, context)  # hashed again: the same memos, the same layers
    assert _chains(selections) == {busybox, *files}
    assert services.images.image(again).config.diff_ids == services.images.image(first).config.diff_ids
    tree = flatten(root, again, tmp_path / "tree")
    assert (tree / "a").read_text() == "a\n" and (tree / "busybox").stat().st_size > 0

    collected = collect_if_needed(services, GcPolicy(True, 0, None))  # the GC prunes through the same path
    assert collected is not None and collected.pruned is not None and collected.pruned.selection_memos == 1
    assert _chains(selections) == {busybox}
