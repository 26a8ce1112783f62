"""ADD's remote sources: an http(s) URL downloaded to one file, or a git repository checked out.

URL (BuildKit ``source/http``): the file is named after the URL path's last
element (``__unnamed__`` when there is none); ``--checksum`` is validated here and
verified by ``builder.copy.remote_files``, which fetches, caches and revalidates URLs.
Git (``source/git``): a shallow fetch of the ref (default branch when none),
submodules unless ``submodules=false``, ``.git`` dropped unless kept, and the
``subdir`` as the tree's root. Git records only 0644/0755, so modes are set from
the executable bit whatever the umask.
"""
from __future__ import annotations

import os
import posixpath
import shutil
import stat
import subprocess
from urllib.parse import unquote, urlsplit

from builder.copy.errors import DownloadError, GitSourceError
from builder.copy.scoped_path import resolve_in_root
from grammar import GitRef

_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


def url_file_name(url: str) -> str:
    """``path.Base(u.Path)``, or ``__unnamed__`` for ``/``, ``.`` or no path."""
    base = posixpath.basename(posixpath.normpath(unquote(urlsplit(url).path) or "."))
    return base if base not in ("", ".", "/") else "__unnamed__"


def check_checksum(checksum: str) -> tuple[str, str]:
    """(algorithm, hex) of a ``--checksum`` value, validated like go-digest's ``Parse``."""
    algorithm, colon, hex_digest = checksum.partition(":")
    if not colon or not hex_digest:
        raise DownloadError(f"invalid checksum digest format: {checksum}")
    if algorithm not in _DIGEST_LENGTHS:
        raise DownloadError(f"unsupported digest algorithm: {checksum}")
    if len(hex_digest) != _DIGEST_LENGTHS[algorithm] or any(c not in "0123456789abcdef" for c in hex_digest):
        raise DownloadError(f"invalid checksum digest length: {checksum}")
    return algorithm, hex_digest


def fetch_git(ref: GitRef, directory: str, keep_git_dir: bool) -> str:
    """Check ``ref`` out below ``directory``; the host path of the tree to copy (its subdir)."""
    if shutil.which("git") is None:
        raise GitSourceError(f"ADD {ref.remote}: git is not installed")
    checkout = os.path.join(directory, "checkout")
    os.makedirs(directory, exist_ok=True)
    _git(directory, "init", "-q", checkout)
    _git(checkout, "remote", "add", "origin", ref.remote)
    wanted = ref.ref or "HEAD"
    try:
        _git(checkout, "fetch", "-q", "--depth=1", "--no-tags", "origin", wanted)
        _git(checkout, "checkout", "-q", "--detach", "FETCH_HEAD")
    except GitSourceError:
        if not ref.ref:
            raise
        _git(checkout, "fetch", "-q", "--tags", "origin")  # a commit the server will not serve shallowly
        _git(checkout, "checkout", "-q", "--detach", ref.ref)
    if ref.checksum:
        commit = _git(checkout, "rev-parse", "HEAD").strip()
        if not commit.startswith(ref.checksum):
            raise GitSourceError(f"{ref.remote}: expected checksum to match {ref.checksum}, got {commit}")
    if ref.submodules is not False and os.path.exists(os.path.join(checkout, ".gitmodules")):
        _git(checkout, "-c", "protocol.file.allow=always", "submodule", "update", "-q", "--init", "--recursive",
             "--depth=1")
    if not keep_git_dir:
        shutil.rmtree(os.path.join(checkout, ".git"))
    _normalize_modes(checkout)
    tree = resolve_in_root(checkout, ref.subdir) if ref.subdir else checkout
    if not os.path.isdir(tree) or os.path.islink(tree):
        raise GitSourceError(f"{ref.remote}: subdir {ref.subdir!r} is not a directory of the repository")
    return tree


def _git(cwd: str, *args: str) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}
    done = subprocess.run(["git", "-c", "advice.detachedHead=false", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise GitSourceError(f"git {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def _normalize_modes(tree: str) -> None:
    for directory, dirs, files in os.walk(tree):
        os.chmod(directory, 0o755)
        for name in files:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                os.chmod(path, 0o755 if st.st_mode & 0o100 else 0o644)
        dirs[:] = [name for name in dirs if name != ".git" or directory != tree]  # a kept .git stays as is
