"""``pybuild cache check``: find (and with ``fix`` repair) what a crash or a bad disk left behind.

*Problems* make the store wrong or wasteful and are reported until fixed:

- ``unreadable``: a record file that does not parse;
- ``missing-blob``: a record whose layer blob is gone (the step would silently re-run);
- ``corrupt-blob``: a layer blob whose bytes do not hash to its digest;
- ``dangling-snapshot``: a step snapshot that no record names and nothing builds on (e.g. once
  ``--fix`` dropped its record; those a killed build leaves are swept below as leftovers, since
  under the exclusive lock no build can be about to record them).

*Leftovers* of dead processes (``builder.cache.leftovers``: temp files, lock files, snapshots of
killed builds) are not problems: every start sweeps them, and so does check.
"""
from __future__ import annotations

import hashlib
import json
import time

from builder.cache.index import TEMP_PREFIX, record_from_json
from builder.cache.leftovers import sweep_leftovers
from builder.cache.sweep import exclusive, remove_snapshots, unrecorded_snapshots
from builder.services import Services
from grammar import record
from registry_client import Digest, RegistryError

_CHUNK = 1 << 20


@record
class Problem:
    kind: str
    subject: str  # the record key, blob digest or snapshot name
    detail: str = ""


@record
class CheckResult:
    problems: tuple[Problem, ...]
    leftovers: int  # dead processes' temp files and snapshots removed
    fixed: bool


def check_cache(services: Services, fix: bool = False, now: float | None = None) -> CheckResult:
    now = time.time() if now is None else now
    with exclusive(services):
        leftovers = sweep_leftovers(services.root, services.snapshotter, services.cache, now).total
        problems = [*_record_problems(services), *_blob_problems(services)]
        if fix:
            _repair(services, problems)
        problems += [Problem("dangling-snapshot", name) for name in unrecorded_snapshots(services)]
        if fix:
            remove_snapshots(services, [p.subject for p in problems if p.kind == "dangling-snapshot"])
    return CheckResult(tuple(problems), leftovers, fix)


def _record_problems(services: Services) -> list[Problem]:
    problems = []
    for path in services.cache.record_files():
        if path.name.startswith(TEMP_PREFIX):
            continue
        try:
            record = record_from_json(json.loads(path.read_bytes()))
            if record.diff_id is not None:
                Digest.parse(record.diff_id)
        except (OSError, ValueError, TypeError, RegistryError) as exc:
            problems.append(Problem("unreadable", path.name, str(exc)))
            continue
        if record.diff_id is not None and not services.store.exists(Digest.parse(record.diff_id)):
            problems.append(Problem("missing-blob", path.stem, record.diff_id))
    return problems


def _blob_problems(services: Services) -> list[Problem]:
    """Hash every layer blob the cache uses (the expensive part of a check)."""
    problems = []
    for text in sorted(services.cache.layer_digests()):
        try:
            digest = Digest.parse(text)
            with services.store.open(digest) as blob:
                hasher = hashlib.new(digest.algorithm)
                while chunk := blob.read(_CHUNK):
                    hasher.update(chunk)
        except RegistryError:
            continue  # missing or malformed: reported by _record_problems
        if hasher.hexdigest() != digest.hex:
            problems.append(Problem("corrupt-blob", text, f"hashes to {digest.algorithm}:{hasher.hexdigest()}"))
    return problems


def _repair(services: Services, problems: list[Problem]) -> None:
    """Records that cannot hit are deleted (their steps run again); corrupt blobs too."""
    corrupt = {p.subject for p in problems if p.kind == "corrupt-blob"}
    doomed = {p.subject.removesuffix(".json") for p in problems if p.kind in ("unreadable", "missing-blob")}
    for path in services.cache.record_files():
        if path.stem in doomed:
            path.unlink(missing_ok=True)
    for entry in list(services.cache.entries()):
        if entry.record.diff_id in corrupt:
            services.cache.remove(entry.key)
    for text in corrupt:
        services.store.delete(Digest.parse(text))  # useless to images too: its bytes are wrong
