"""ImageStore: the local images of a state root: names -> manifests, plus collection."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

from grammar import record
from registry_client import (
    ContentStore, Descriptor, Digest, Platform, Reference, RegistryError, parse_reference,
)

from . import layout
from .collect import Collected, delete_blobs, sweep_ingest
from .errors import AmbiguousImage, ImageInUse, ImageNotFound, StoreCorrupt
from .locks import lease, locked, try_locked
from .names import REPO_DIGEST, entry_name, id_prefix, parse_name, same_name, with_name
from .reading import ManifestReader, StoredImage

Protect = Callable[[], Iterable[Digest]]


@record
class ImageRecord:
    """One row of ``pybuild images``: a name (None if dangling) and the image it points at."""

    name: Reference | None
    descriptor: Descriptor  # the index.json entry: an image manifest or an index
    image_id: Digest
    created: str | None
    size: int
    platform: Platform | None
    repo_digest: str | None


@record
class Removal:
    """What ``remove`` or ``prune`` did, in docker's words: names untagged, image IDs deleted."""

    untagged: tuple[Reference, ...]
    deleted: tuple[Digest, ...]
    reclaimed: Collected | None  # None when a pull or build held the store: blobs stay for prune


class ImageStore:
    """The images under ``root``; safe to use from several processes at once.

    Anything that writes blobs it will tag later (pull, build, load) must do so inside
    ``with store.lease():`` so that collection cannot delete them half way. ``protect``
    names digests that other parts of pybuild (the build cache) keep using.
    """

    def __init__(self, root: Path | str, *, protect: Protect | None = None) -> None:
        self.root = Path(root)
        layout.ensure_layout(self.root)
        self.content = ContentStore(self.root)
        self._reader = ManifestReader(self.content)
        self._protect = protect or (lambda: ())
        sweep_ingest(self.root)

    # -- naming ----------------------------------------------------------------------------
    def tag(self, ref: Reference | str, descriptor: Descriptor, *, repo_digest: str | None = None) -> Descriptor:
        """Point ``ref`` at ``descriptor`` (a manifest or index already in the content store).

        ``repo_digest`` (``name@sha256:...``) records what a registry served the image as.
        An image the name pointed at before stays as ``<none>`` if nothing else names it.
        """
        name = parse_reference(ref) if isinstance(ref, str) else ref
        if not self.content.exists(descriptor.digest):
            raise ImageNotFound(str(descriptor.digest))
        entry = with_name(descriptor, name, repo_digest)
        with self._editing() as entries:
            displaced = [e for e in entries if _is_named(e, name)]
            entries[:] = [e for e in entries if not _is_named(e, name)
                          and not (entry_name(e) is None and e.digest == descriptor.digest)]
            entries.append(entry)
            for old in displaced:
                if not any(e.digest == old.digest for e in entries):
                    entries.append(with_name(old, None, old.annotations.get(REPO_DIGEST)))
        return entry

    def add_unnamed(self, descriptor: Descriptor) -> Descriptor:
        """Keep ``descriptor`` as a ``<none>`` image (an untagged build or load) unless a name already has it."""
        if not self.content.exists(descriptor.digest):
            raise ImageNotFound(str(descriptor.digest))
        entry = with_name(descriptor, None)
        with self._editing() as entries:
            if not any(e.digest == descriptor.digest for e in entries):
                entries.append(entry)
        return entry

    def untag(self, ref: Reference | str) -> Descriptor:
        """Remove the name ``ref`` only; blobs stay until ``prune`` (see ``remove``)."""
        name = parse_reference(ref) if isinstance(ref, str) else ref
        with self._editing() as entries:
            found = [e for e in entries if _is_named(e, name)]
            if not found:
                raise ImageNotFound(str(name))
            entries[:] = [e for e in entries if not _is_named(e, name)]
        return found[0]

    # -- lookup ----------------------------------------------------------------------------
    def entries(self) -> list[Descriptor]:
        """The index.json entries as they are on disk now."""
        return layout.read_index(self.root)

    def resolve(self, text: str) -> Descriptor | None:
        """The entry ``text`` names (short name, full reference, ID or digest prefix), or None."""
        return self._find(self.entries(), text) if text else None

    def image(self, text_or_entry: str | Descriptor, platform: Platform | None = None) -> StoredImage:
        """The image a name or entry denotes, read from the store; ImageNotFound if absent."""
        entry = self.resolve(text_or_entry) if isinstance(text_or_entry, str) else text_or_entry
        if entry is None:
            raise ImageNotFound(str(text_or_entry))
        return self._reader.image(entry, platform)

    def names_of(self, digest: Digest) -> list[Reference]:
        """Every name pointing at the entry with manifest or index ``digest``."""
        return [n for e in self.entries() if e.digest == digest and (n := entry_name(e)) is not None]

    def list(self) -> list[ImageRecord]:
        """All names and dangling images, newest first (as ``docker images``)."""
        records = []
        for entry in self.entries():
            try:
                image = self._reader.image(entry)
            except StoreCorrupt:
                continue  # an entry another tool left without its blobs must not hide the rest
            records.append(ImageRecord(entry_name(entry), entry, image.image_id, image.config.created,
                                       image.size, image.config.platform, entry.annotations.get(REPO_DIGEST)))
        records.sort(key=lambda r: str(r.name or ""))
        records.sort(key=lambda r: r.created or "", reverse=True)
        return records

    def _find(self, entries: list[Descriptor], text: str) -> Descriptor | None:
        name = parse_name(text)
        found = self._by_name(entries, name) if name is not None else None
        prefix = id_prefix(text)
        if found is None and prefix:
            found = self._by_prefix(entries, prefix, text)
        return found

    def _by_name(self, entries: list[Descriptor], name: Reference) -> Descriptor | None:
        for entry in entries:
            if _is_named(entry, name):
                return entry
        if name.digest is None:
            return None
        # name@digest also finds an image pulled by tag whose manifest or registry digest it is
        for entry in entries:
            stored = entry_name(entry)
            repo_digest = entry.annotations.get(REPO_DIGEST, "")
            if stored is not None and stored.name == name.name and (
                    str(entry.digest) == name.digest or repo_digest.endswith(f"@{name.digest}")):
                return entry
        return None

    def _by_prefix(self, entries: list[Descriptor], prefix: str, text: str) -> Descriptor | None:
        matches: dict[Digest, Descriptor] = {}
        for entry in entries:
            image_id = self._reader.image_id(entry)
            if image_id.hex.startswith(prefix) or entry.digest.hex.startswith(prefix):
                matches.setdefault(image_id, entry)
        if len(matches) > 1:
            raise AmbiguousImage(f"{text!r} matches {len(matches)} images; give more of the ID")
        return next(iter(matches.values()), None)

    # -- removal ---------------------------------------------------------------------------
    def remove(self, text: str, *, force: bool = False) -> Removal:
        """``docker rmi``: untag a name, and delete the image once nothing names it.

        By ID, every name of the image goes, but only with ``force`` when there are several.
        """
        name = parse_name(text)
        with self._editing() as entries:
            entry = self._by_name(entries, name) if name is not None else None
            if entry is None:
                doomed = self._all_with_id(entries, text, force)
            else:  # another tool may have written the same name twice: remove every copy
                doomed = [e for e in entries if e == entry or (name is not None and _is_named(e, name))]
            entries[:] = [e for e in entries if e not in doomed]
            gone = [e for e in doomed if not any(kept.digest == e.digest for kept in entries)]
        untagged = tuple(n for e in doomed if (n := entry_name(e)) is not None)
        deleted = tuple(dict.fromkeys(self._reader.image_id(e) for e in gone))
        reclaimed = self._collect(gone, wait=False) if gone else Collected(0, 0)
        return Removal(untagged, deleted, reclaimed)

    def _all_with_id(self, entries: list[Descriptor], text: str, force: bool) -> list[Descriptor]:
        prefix = id_prefix(text)
        entry = self._by_prefix(entries, prefix, text) if prefix else None
        if entry is None:
            raise ImageNotFound(text)
        image_id = self._reader.image_id(entry)
        doomed = [e for e in entries if self._reader.image_id(e) == image_id]
        names = {str(n) for e in doomed if (n := entry_name(e)) is not None}
        if len(names) > 1 and not force:
            raise ImageInUse(f"unable to delete {image_id.hex[:12]} (must be forced) - "
                             "image is referenced in multiple repositories")
        return doomed

    def prune(self) -> Removal:
        """Delete dangling images, then every unreferenced blob (``docker image prune``)."""
        with self._editing() as entries:
            dangling = [e for e in entries if entry_name(e) is None]
            entries[:] = [e for e in entries if entry_name(e) is not None]
        deleted = tuple(dict.fromkeys(self._reader.image_id(e) for e in dangling))
        return Removal((), deleted, self._collect(dangling, wait=True, full=True))

    @contextmanager
    def lease(self) -> Iterator[None]:
        """Keep collection away while blobs are being written and tagged."""
        with lease(self.root):
            yield

    def _collect(self, removed: list[Descriptor], *, wait: bool, full: bool = False) -> Collected | None:
        candidates: set[Digest] = set()
        for entry in removed:
            candidates |= self._blobs_of(entry)
        lock_path = self.root / "gc.lock"
        with (locked(lock_path) if wait else try_locked(lock_path)) as acquired:
            if acquired is False:
                return None
            keep = set(self._protect())
            for entry in self.entries():  # read again under the lock: another process may have tagged
                keep |= self._blobs_of(entry)
            collected = delete_blobs(self.root, keep, candidates)
            if full:
                orphans = delete_blobs(self.root, keep, None)
                collected = Collected(collected.blobs + orphans.blobs, collected.bytes + orphans.bytes)
            return collected

    def _blobs_of(self, entry: Descriptor) -> set[Digest]:
        """What an entry keeps alive: its tree, plus the registry's index it was pulled from."""
        blobs = self._reader.blobs_of(entry)
        _, _, served_as = entry.annotations.get(REPO_DIGEST, "").rpartition("@")
        if served_as:
            try:
                blobs.add(Digest.parse(served_as))
            except RegistryError:
                pass  # written by another tool: it only names the index, nothing to keep
        return blobs

    @contextmanager
    def _editing(self) -> Iterator[list[Descriptor]]:
        """Read-modify-write of index.json under its lock; written only if changed."""
        with locked(self.root / "index.lock"):
            entries = self.entries()
            before = list(entries)
            yield entries
            if entries != before:
                layout.write_index(self.root, entries)


def _is_named(entry: Descriptor, name: Reference) -> bool:
    stored = entry_name(entry)
    return stored is not None and same_name(stored, name)
