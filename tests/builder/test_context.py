"""The build context: .dockerignore walking, content digests for cache keys, the persistent stat cache."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from test_copy_support import D, F, L, make_tree, snapshot

import builder.context.local as context_module
from builder.context.local import BuildContext
from builder.copy.errors import SourceNotFoundError
from builder.copy.execute import CopyRequest, execute_copy

TREE = {"Dockerfile": "FROM scratch", "app.py": "print()", "docs": D(), "docs/README.md": "r", "docs/x.md": "x",
        "build": D(), "build/out.o": "o", "src": D(), "src/main.c": F("c", 0o640), "src/README.md": "s",
        "link": L("app.py")}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "ctx", TREE)


@pytest.mark.parametrize(("patterns", "expected"), [
    ((), set(TREE)),
    (("build",), set(TREE) - {"build", "build/out.o"}),
    (("*.md",), set(TREE)),  # anchored at the root: does not match docs/README.md
    (("**/*.md",), set(TREE) - {"docs/README.md", "docs/x.md", "src/README.md"}),
    (("docs", "!docs/README.md"), set(TREE) - {"docs/x.md"}),  # the excluded dir is kept as a parent
    (("docs", "!**/README.md"), set(TREE) - {"docs", "docs/README.md", "docs/x.md"}),  # fsutil prunes docs
    (("*", "!src"), {"src", "src/main.c", "src/README.md"}),
])
def test_dockerignore_walk(tree: Path, patterns: tuple[str, ...], expected: set[str]) -> None:
    assert set(BuildContext(tree, patterns).entries) == expected


def test_load_reads_the_dockerignore_next_to_the_dockerfile(tree: Path) -> None:
    (tree / ".dockerignore").write_text("build\n")
    (tree / "Dockerfile.dockerignore").write_text("docs\n")
    assert "build" not in BuildContext.load(tree).entries
    loaded = BuildContext.load(tree, tree / "Dockerfile")
    assert "docs" not in loaded.entries and "build" in loaded.entries


def test_copy_from_context_honours_dockerignore(tree: Path, tmp_path: Path) -> None:
    context = BuildContext(tree, ("build", "**/*.md", "link"))
    root = tmp_path / "root"
    root.mkdir()
    execute_copy(str(root), CopyRequest("/all/", (".",), context.source()))
    assert set(snapshot(root, "all")) == {"/all", "/all/Dockerfile", "/all/app.py", "/all/docs", "/all/src",
                                          "/all/src/main.c"}
    with pytest.raises(SourceNotFoundError, match='"/build/out.o": not found'):
        execute_copy(str(root), CopyRequest("/x", ("build/out.o",), context.source()))


def digest(tree: Path, paths=("",), patterns: tuple[str, ...] = ()) -> str:
    return BuildContext(tree, patterns).digest_of(paths)


def test_digest_ignores_mtime_and_owner_but_not_mode_content_or_names(tree: Path) -> None:
    base = digest(tree)
    os.utime(tree / "app.py", (1, 1))
    os.chown(tree / "app.py", 1234, 1234)
    assert digest(tree) == base
    os.chmod(tree / "app.py", 0o4755)
    assert digest(tree) != base
    os.chmod(tree / "app.py", 0o644)
    assert digest(tree) == base
    (tree / "app.py").write_text("print(1)")
    assert digest(tree) != base


@pytest.mark.parametrize("change", ["rename", "add", "dir-mode", "link-target"])
def test_digest_changes_with_the_tree(tree: Path, change: str) -> None:
    base = digest(tree)
    if change == "rename":
        os.rename(tree / "docs" / "x.md", tree / "docs" / "y.md")
    elif change == "add":
        (tree / "src" / "new.c").write_text("")
    elif change == "dir-mode":
        os.chmod(tree / "src", 0o700)
    else:
        os.unlink(tree / "link")
        os.symlink("Dockerfile", tree / "link")
    assert digest(tree) != base


def test_digest_of_a_selection_ignores_the_rest_and_excluded_files(tree: Path) -> None:
    base = digest(tree, ["src"])
    (tree / "app.py").write_text("changed")
    assert digest(tree, ["src"]) == base
    ignored = digest(tree, patterns=("build",))
    (tree / "build" / "out.o").write_text("rebuilt")
    assert digest(tree, patterns=("build",)) == ignored
    assert digest(tree, ["src"]) != digest(tree, ["docs"])
    with pytest.raises(SourceNotFoundError):
        digest(tree, ["nope"])


def _age(tree: Path, seconds: float = 10) -> None:
    """Age every file so the stat cache trusts them (fresh files are "racy" and re-hashed)."""
    old = time.time() - seconds
    for directory, _, files in os.walk(tree):
        for name in files:
            os.utime(os.path.join(directory, name), (old, old))


class _Counter:
    def __init__(self) -> None:
        self.hashed: list[str] = []
        self.real = context_module.sha256_files

    def __call__(self, root: str, relpaths: list[str]) -> dict[str, str]:
        self.hashed.extend(relpaths)
        return self.real(root, relpaths)


def test_stat_cache_is_persisted_and_unchanged_files_are_never_read(tree: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    counter = _Counter()
    monkeypatch.setattr(context_module, "sha256_files", counter)
    # ctime cannot be set back: wait out the racy window once instead.
    _age(tree)
    time.sleep(0.15)
    first = BuildContext(tree, cache_dir=cache).digest_of([""])
    assert len(counter.hashed) == 7
    counter.hashed.clear()
    assert BuildContext(tree, cache_dir=cache).digest_of([""]) == first
    assert counter.hashed == []
    (tree / "src" / "main.c").write_text("d")  # same size, new content: the stat changes
    edited = BuildContext(tree, cache_dir=cache).digest_of([""])
    assert counter.hashed == ["src/main.c"] and edited != first
    counter.hashed.clear()
    BuildContext(tree, cache_dir=cache).digest_of([""])
    assert counter.hashed == ["src/main.c"], "hashed right after a write: racy, so not trusted yet"


def test_corrupt_stat_cache_is_ignored(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    expected = BuildContext(tree, cache_dir=cache).digest_of([""])
    for stored in (cache / "context-stat").iterdir():
        stored.write_bytes(b"garbage")
    assert BuildContext(tree, cache_dir=cache).digest_of([""]) == expected


def test_special_files_hash_as_empty_files(tree: Path) -> None:
    os.mkfifo(tree / "fifo", 0o644)
    with_fifo = digest(tree)
    os.unlink(tree / "fifo")
    (tree / "fifo").write_text("")
    assert digest(tree) == with_fifo
