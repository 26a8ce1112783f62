"""ImageStore: naming, resolution, listing, removal, collection, and the on-disk layout."""
from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from builder.imagestore import (
    REF_NAME, AmbiguousImage, ImageInUse, ImageNotFound, ImageStore, sweep_ingest,
)
from registry_client import (
    ContentStore, Descriptor, Index, Manifest, MediaType, Platform, canonical_json, parse_manifest,
)


def make_image(content: ContentStore, seed: str, *, shared_layer: bytes = b"shared base layer",
               created: str = "2024-01-01T00:00:00Z", arch: str = "amd64") -> Descriptor:
    """A small image: one layer shared by all images, one of its own, and a config."""
    layers = tuple(content.put_bytes(data, MediaType.OCI_LAYER) for data in (shared_layer, f"own {seed}".encode()))
    config = {"architecture": arch, "os": "linux", "created": created, "config": {"Cmd": [seed]},
              "rootfs": {"type": "layers", "diff_ids": [str(layer.digest) for layer in layers]}}
    config_descriptor = content.put_bytes(canonical_json(config), MediaType.OCI_CONFIG)
    manifest = Manifest(config_descriptor, layers)
    return content.put_bytes(manifest.to_bytes(), MediaType.OCI_MANIFEST)


def config_digest(store: ImageStore, descriptor: Descriptor) -> str:
    manifest = parse_manifest(store.content.read_bytes(descriptor.digest))
    assert isinstance(manifest, Manifest)
    return str(manifest.config.digest)


@pytest.fixture()
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "root")


def test_a_new_root_is_an_empty_oci_layout(store: ImageStore) -> None:
    assert json.loads((store.root / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((store.root / "index.json").read_text())
    assert index == {"schemaVersion": 2, "mediaType": MediaType.OCI_INDEX, "manifests": []}
    assert store.list() == []


def test_names_are_stored_as_full_references(store: ImageStore) -> None:
    image = make_image(store.content, "a")
    store.tag("busybox", image)
    [entry] = json.loads((store.root / "index.json").read_text())["manifests"]
    assert entry["annotations"][REF_NAME] == "docker.io/library/busybox:latest"
    assert entry["digest"] == str(image.digest)
    assert [p.name for p in store.root.iterdir() if p.name.startswith(".")] == []  # no temp files left


@pytest.mark.parametrize("spelling", [
    "busybox", "busybox:latest", "library/busybox", "docker.io/library/busybox:latest",
    "index.docker.io/library/busybox",
])
def test_resolve_accepts_every_spelling_of_a_name(store: ImageStore, spelling: str) -> None:
    image = make_image(store.content, "a")
    store.tag("busybox", image)
    assert store.resolve(spelling).digest == image.digest  # type: ignore[union-attr]
    assert store.resolve("busybox:other") is None


def test_resolve_by_id_digest_and_prefixes(store: ImageStore) -> None:
    image = make_image(store.content, "a")
    store.tag("example.com/app:1", image, repo_digest=f"example.com/app@sha256:{'e' * 64}")
    image_id = config_digest(store, image)
    for text in (image_id, image_id.split(":")[1], image_id.split(":")[1][:12], image_id[:14],
                 str(image.digest)[7:19], f"example.com/app@{image.digest}", f"example.com/app@sha256:{'e' * 64}"):
        assert store.resolve(text).digest == image.digest, text  # type: ignore[union-attr]
    assert store.resolve("0000000") is None
    assert store.resolve(f"example.com/other@{image.digest}") is None


def test_names_win_over_id_prefixes(store: ImageStore) -> None:
    first, second = make_image(store.content, "a"), make_image(store.content, "b")
    store.tag("first", first)
    prefix = config_digest(store, first).split(":")[1][:6]
    store.tag(prefix, second)  # a repository named like the other image's ID prefix
    assert store.resolve(prefix).digest == second.digest  # type: ignore[union-attr]


def test_an_ambiguous_prefix_is_an_error(store: ImageStore) -> None:
    images = [make_image(store.content, str(n)) for n in range(40)]  # 40 IDs share some first hex digit
    for number, image in enumerate(images):
        store.tag(f"app:{number}", image)
    first_digits = [config_digest(store, image).split(":")[1][0] for image in images]
    common = max(set(first_digits), key=first_digits.count)
    with pytest.raises(AmbiguousImage):
        store.resolve(common)


def test_retagging_leaves_the_old_image_dangling_until_prune(store: ImageStore) -> None:
    old, new = make_image(store.content, "old"), make_image(store.content, "new")
    old_id, new_id = config_digest(store, old), config_digest(store, new)
    store.tag("app", old)
    store.tag("app", new)
    names = {(str(r.name) if r.name else None, str(r.image_id)) for r in store.list()}
    assert names == {("docker.io/library/app:latest", new_id), (None, old_id)}
    removal = store.prune()
    assert [str(d) for d in removal.deleted] == [old_id]
    assert not store.content.exists(old.digest) and store.content.exists(new.digest)
    assert store.image("app").config.cmd == ("new",)  # its layer shared with the old image is kept


def test_tagging_a_dangling_image_again_names_it(store: ImageStore) -> None:
    old, new = make_image(store.content, "old"), make_image(store.content, "new")
    store.tag("app", old)
    store.tag("app", new)
    store.tag("app:back", old)
    assert all(record.name is not None for record in store.list())


def test_remove_untags_first_and_deletes_with_the_last_name(store: ImageStore) -> None:
    keep, doomed = make_image(store.content, "keep"), make_image(store.content, "doomed")
    doomed_id = config_digest(store, doomed)
    store.tag("keep", keep)
    store.tag("doomed", doomed)
    store.tag("doomed:alias", doomed)
    first = store.remove("doomed:alias")
    assert [str(n) for n in first.untagged] == ["docker.io/library/doomed:alias"] and first.deleted == ()
    second = store.remove("doomed")
    assert [str(d) for d in second.deleted] == [doomed_id]
    assert second.reclaimed is not None and second.reclaimed.blobs == 3  # manifest, config, own layer
    assert not store.content.exists(doomed.digest)
    assert store.image("keep").config.cmd == ("keep",)  # the shared layer is still there


def test_remove_by_id_needs_force_when_several_names_point_at_it(store: ImageStore) -> None:
    image = make_image(store.content, "a")
    store.tag("one", image)
    store.tag("two", image)
    image_id = config_digest(store, image).split(":")[1][:12]
    with pytest.raises(ImageInUse):
        store.remove(image_id)
    removal = store.remove(image_id, force=True)
    assert {n.repository for n in removal.untagged} == {"library/one", "library/two"}
    assert store.list() == []
    with pytest.raises(ImageNotFound):
        store.remove(image_id)


def test_protected_digests_survive_collection(tmp_path: Path) -> None:
    first = ImageStore(tmp_path / "root")
    image = make_image(first.content, "a")
    manifest = parse_manifest(first.content.read_bytes(image.digest))
    assert isinstance(manifest, Manifest)
    protected = manifest.layers[1].digest
    store = ImageStore(tmp_path / "root", protect=lambda: {protected})
    store.tag("app", image)
    store.remove("app")
    assert store.content.exists(protected) and not store.content.exists(image.digest)


def _hold_lease(root: str, ready: multiprocessing.synchronize.Event, release: multiprocessing.synchronize.Event) -> None:
    with ImageStore(root).lease():
        ready.set()
        release.wait(20)


def test_a_lease_in_another_process_defers_blob_deletion(store: ImageStore) -> None:
    image = make_image(store.content, "a")
    store.tag("app", image)
    context = multiprocessing.get_context("fork")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_lease, args=(str(store.root), ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        removal = store.remove("app")
        assert removal.reclaimed is None and store.content.exists(image.digest)
    finally:
        release.set()
        holder.join(10)
    store.prune()  # the image's blobs are orphans now, but recent: kept for the grace period
    assert store.content.exists(image.digest)


def test_prune_sweeps_old_orphans(store: ImageStore) -> None:
    orphan = store.content.put_bytes(b"left behind by a killed pull", MediaType.OCI_LAYER)
    recent = store.content.put_bytes(b"written a moment ago", MediaType.OCI_LAYER)
    long_ago = time.time() - 2 * 3600
    os.utime(store.content.path(orphan.digest), (long_ago, long_ago))
    removal = store.prune()
    assert removal.reclaimed is not None and removal.reclaimed.blobs == 1
    assert not store.content.exists(orphan.digest) and store.content.exists(recent.digest)


def test_stale_ingest_files_are_swept_when_a_store_opens(tmp_path: Path) -> None:
    ingest = tmp_path / "root" / "ingest"
    ingest.mkdir(parents=True)
    stale, fresh = ingest / "dead-pull", ingest / "live-pull"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    long_ago = time.time() - 2 * 3600
    os.utime(stale, (long_ago, long_ago))
    ImageStore(tmp_path / "root")
    assert not stale.exists() and fresh.exists()
    assert sweep_ingest(tmp_path / "root", max_age=0, now=time.time() + 1) == 1


def _tag_many(root: str, worker: int) -> None:
    store = ImageStore(root)
    image = make_image(store.content, f"w{worker}")
    for number in range(8):
        store.tag(f"w{worker}:{number}", image)


def test_concurrent_processes_never_lose_a_name(tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    ImageStore(root)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_tag_many, args=(root, n)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    assert len(ImageStore(root).list()) == 32


def test_an_index_entry_resolves_to_the_platform_image_present(store: ImageStore) -> None:
    amd64 = make_image(store.content, "x86", arch="amd64")
    arm64 = make_image(store.content, "arm", arch="arm64")
    missing = Descriptor(MediaType.OCI_MANIFEST, parse_manifest(store.content.read_bytes(arm64.digest)).config.digest,  # type: ignore[union-attr]
                         1, Platform("linux", "s390x"))  # an entry whose manifest was never pulled
    entries = (Descriptor(amd64.media_type, amd64.digest, amd64.size, Platform("linux", "amd64")),
               Descriptor(arm64.media_type, arm64.digest, arm64.size, Platform("linux", "arm64")), missing)
    index = store.content.put_bytes(Index(entries).to_bytes(), MediaType.OCI_INDEX)
    store.tag("multi", index)
    assert store.image("multi", Platform("linux", "arm64")).config.platform.architecture == "arm64"
    [record] = store.list()
    assert record.descriptor.digest == index.digest and record.platform is not None
    store.remove("multi")
    assert not store.content.exists(amd64.digest) and not store.content.exists(index.digest)
