"""``COPY --link``: a layer made on scratch and stacked on the stage, so it survives changes below it."""
from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

import pytest
from test_add_url_revalidate import cached_titles
from test_build_e2e import run_build

from builder.errors import StepError
from registry_client import ContentStore
from tests.support.images import flatten

pytestmark = pytest.mark.privileged


def layer_entries(root: Path, diff_id: object) -> list[tuple[str, int, int, int]]:
    """(name, mode, uid, gid) of every entry of a stored layer, in tar order."""
    with ContentStore(root).open(diff_id) as blob, tarfile.open(fileobj=blob, mode="r|") as tar:  # type: ignore[arg-type]
        return [(member.name, member.mode, member.uid, member.gid) for member in tar]


def tree(root: Path) -> dict[str, tuple[str, int, int, int, bytes | str]]:
    """path -> (type, mode, uid, gid, content or link target), below ``root``."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory, name)
            st = path.lstat()
            kind = "d" if stat.S_ISDIR(st.st_mode) else "l" if stat.S_ISLNK(st.st_mode) else "f"
            body: bytes | str = os.readlink(path) if kind == "l" else path.read_bytes() if kind == "f" else b""
            found[str(path.relative_to(root))] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, body)
    return found


@pytest.fixture
def context(tmp_path: Path) -> Path:
    context = tmp_path / "context"
    (context / "sub").mkdir(parents=True)
    (context / "f.txt").write_text("linked\n")
    (context / "sub" / "g.txt").write_text("nested\n")
    os.chmod(context / "sub" / "g.txt", 0o640)
    return context


def test_changing_an_earlier_step_reuses_the_linked_layer(built_root: Path, tmp_path: Path, context: Path) -> None:
    template = "FROM busybox:local\nRUN echo {} > /before\nCOPY --link f.txt /app/\nRUN ls /app > /after\n"
    first = run_build(built_root, context, template.format("one"), tags=("link:one",))
    events: list = []
    second = run_build(built_root, context, template.format("two"), events, tags=("link:two",))
    # The linked layer is reused but stacked anew: BuildKit's progress group of copy + merge is then
    # DONE, not CACHED (CACHED needs the merge cached too); the RUNs below and after it rerun.
    assert cached_titles(events) == []
    first_ids, second_ids = first.image.config.diff_ids, second.image.config.diff_ids
    assert first_ids[-3] != second_ids[-3]  # the changed RUN
    assert first_ids[-2] == second_ids[-2]  # the very same --link layer blob, stacked on the new state
    # BuildKit's layer: the created parent and the copied file, nothing of the stage below
    assert layer_entries(built_root, second_ids[-2]) == [("app", 0o755, 0, 0), ("app/f.txt", 0o644, 0, 0)]
    events.clear()  # nothing changed: the whole group hits
    run_build(built_root, context, template.format("two"), events)
    assert cached_titles(events) == ["RUN echo two > /before", "COPY --link f.txt /app/", "RUN ls /app > /after"]
    result = flatten(built_root, "link:two", tmp_path / "two")
    assert (result / "after").read_text() == "f.txt\n" and (result / "before").read_text() == "two\n"
    events.clear()  # a full rebuild is a hit all the way
    third = run_build(built_root, context, template.format("two"), events)
    assert len(cached_titles(events)) == 3 and third.image.image_id == second.image.image_id


def test_the_file_tree_equals_a_plain_copy(built_root: Path, tmp_path: Path, context: Path) -> None:
    copy = "FROM busybox:local\nWORKDIR /srv/www\nCOPY {} f.txt sub ./\nCOPY {} --chown=1000:1001 sub /owned/deep/\n"
    run_build(built_root, context, copy.format("", ""), tags=("link:plain",))
    run_build(built_root, context, copy.format("--link", "--link"), tags=("link:linked",))
    plain = tree(flatten(built_root, "link:plain", tmp_path / "plain"))
    linked = tree(flatten(built_root, "link:linked", tmp_path / "linked"))
    assert linked == plain
    assert linked["srv/www/g.txt"][:4] == ("f", 0o640, 0, 0)
    assert linked["owned/deep"][:4] == ("d", 0o755, 1000, 1001) and linked["owned"][2:4] == (1000, 1001)


def test_destination_symlinks_below_are_not_followed(built_root: Path, tmp_path: Path, context: Path) -> None:
    dockerfile = ("FROM busybox:local\nRUN mkdir /real && ln -s /real /sym\n"
                  "COPY --link f.txt /sym/\nCOPY f.txt /real/plain.txt\n")
    run_build(built_root, context, dockerfile, tags=("link:sym",))
    result = flatten(built_root, "link:sym", tmp_path / "sym")
    assert (result / "sym").is_dir() and not (result / "sym").is_symlink()  # the layer's directory wins
    assert (result / "sym" / "f.txt").read_text() == "linked\n"
    assert sorted(os.listdir(result / "real")) == ["plain.txt"]


def test_chown_by_name_is_refused_and_chmod_falls_back_to_a_plain_copy(built_root: Path, tmp_path: Path,
                                                                         context: Path) -> None:
    with pytest.raises(StepError, match="--chown=nobody cannot be used with --link") as caught:
        run_build(built_root, context, "FROM busybox:local\nCOPY --link --chown=nobody f.txt /x\n")
    assert caught.value.line == 2
    run_build(built_root, context, "FROM busybox:local\nCOPY --link --chown=root:root f.txt /rooted\n")

    template = "FROM busybox:local\nRUN echo {} > /before\nCOPY --link --chmod=0600 f.txt /app/\n"
    run_build(built_root, context, template.format("chmod-one"))
    events: list = []  # BuildKit copies in place when --chmod is given: the step depends on the layers below
    run_build(built_root, context, template.format("chmod-two"), events, tags=("link:chmod",))
    assert cached_titles(events) == []
    assert (flatten(built_root, "link:chmod", tmp_path / "c") / "app/f.txt").stat().st_mode & 0o777 == 0o600
