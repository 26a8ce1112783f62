"""``--tmpfs PATH[:OPTIONS]``: docker's short tmpfs syntax, with the daemon's defaults and checks.

Docker starts from ``noexec,nosuid,nodev`` and appends the user's comma-separated options; when two
words set the same flag (``noexec`` and ``exec``) or the same key (``size=``), the last one wins
(moby's ``MergeTmpfsOptions``). Propagation words are accepted and change nothing: the container's
mounts are private anyway. ``dev`` is refused: pybuild keeps every writable mount ``nodev``.
"""
from __future__ import annotations

import posixpath

from builder.errors import UsageError
from runtime import TMPFS_FLAG_WORDS, TmpfsMount

DOCKER_DEFAULTS = ("noexec", "nosuid", "nodev")
# flag words, by the flag they set or clear (the last word for a flag wins); dev/nodev are checked here
_FLAG_OF = {word: flag for word, (flag, _) in TMPFS_FLAG_WORDS.items()} | {"nodev": "nodev", "dev": "nodev"}
_PROPAGATION = frozenset({"private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"})
_DATA_KEYS = frozenset({"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"})


def parse_tmpfs(value: str) -> TmpfsMount:
    path, _, options = value.partition(":")
    if not path.startswith("/"):
        raise UsageError(f"invalid --tmpfs {value!r}: mount path {path!r} must be absolute")
    target = posixpath.normpath(path)
    if target == "/":
        raise UsageError(f"invalid --tmpfs {value!r}: the destination can't be '/'")
    return TmpfsMount(target, _merged((*DOCKER_DEFAULTS, *(word for word in options.split(",") if word)), value))


def _merged(words: tuple[str, ...], value: str) -> tuple[str, ...]:
    kept: list[str] = []
    seen: set[str] = set()
    for word in reversed(words):  # the last word for a flag or key wins
        if word == "defaults" or word in _PROPAGATION:
            continue
        if word in _FLAG_OF:
            key = _FLAG_OF[word]
        else:
            key, separator, _ = word.partition("=")
            if not separator or key not in _DATA_KEYS:
                raise UsageError(f"invalid --tmpfs {value!r}: invalid tmpfs option {word!r}")
        if key not in seen:
            seen.add(key)
            kept.insert(0, word)
    if "dev" in kept:
        raise UsageError(f"invalid --tmpfs {value!r}: pybuild mounts every writable tmpfs nodev; 'dev' is not supported")
    return tuple(word for word in kept if word != "nodev")  # the runtime always adds it
