"""``pull_into``: the store of a new root is opened on a helper thread while the blobs download
(issue 3: that work then hides behind the transfer), with the same results and errors as a pull
into an opened store. Against the real registry of ``base_registry``."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from registry_commands_support import make_client

from builder.image.distribution import pull_into
from builder.imagestore import ImageStore
from builder.imagestore.errors import StoreCorrupt
from registry_client import NotFound

BASE_REPOSITORY = "library/busybox:latest"  # what conftest's base_registry holds


def test_the_store_is_opened_while_the_blobs_arrive_and_the_image_is_tagged_in_it(base_registry, tmp_path):
    root = tmp_path / "root"
    opened: list[tuple[str, bool]] = []  # (thread, whether a blob was already stored when opening)

    def open_store() -> ImageStore:
        blobs = root / "blobs" / "sha256"
        opened.append((threading.current_thread().name, blobs.is_dir() and any(blobs.iterdir())))
        return ImageStore(root)

    events: list[object] = []
    result = pull_into(root, f"{base_registry}/{BASE_REPOSITORY}", client=make_client(),
                       open_store=open_store, emit=events.append)

    # Opened once, off the caller's thread, after the registry work began (the manifest is stored).
    assert opened == [("pybuild-open-store", True)]
    store = ImageStore(root)
    entry = store.resolve(f"{base_registry}/{BASE_REPOSITORY}")
    assert entry is not None and store.image(entry).image_id == result.image_id
    assert (root / "oci-layout").is_file()
    assert type(events[-1]).__name__ == "PullFinished" and result.downloaded


def test_a_store_that_cannot_be_opened_fails_the_pull_after_the_download(base_registry, tmp_path):
    root = tmp_path / "root"

    def open_store() -> ImageStore:
        raise StoreCorrupt(f"{root / 'index.json'} is not valid JSON")

    with pytest.raises(StoreCorrupt, match="not valid JSON"):
        pull_into(root, f"{base_registry}/{BASE_REPOSITORY}", client=make_client(), open_store=open_store)
    assert not (root / "index.json").exists()  # nothing was tagged


def test_a_failed_pull_never_opens_the_store_and_leaves_no_thread_behind(base_registry, tmp_path):
    root = tmp_path / "root"
    calls: list[Path] = []

    def open_store() -> ImageStore:
        calls.append(root)
        return ImageStore(root)

    before = {t.name for t in threading.enumerate()}
    with pytest.raises(NotFound):
        pull_into(root, f"{base_registry}/library/absent:latest", client=make_client(), open_store=open_store)
    assert calls == []  # no blob arrived: the store's set-up was never started
    assert {t.name for t in threading.enumerate()} - before == set()
