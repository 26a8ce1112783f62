"""Is an ``ADD`` source (or a build context) a git repository? BuildKit ``dfgitutil.ParseGitRef``.

Accepted forms: ``https://host/x.git``, ``http://host/x.git`` (the path must
end in ``.git``), ``git://host/x``, ``ssh://host/x``, SCP-like ``[user@]host:path``
and the deprecated ``github.com/owner/repo``. ``#ref[:subdir]`` and the query
keys ``ref tag branch subdir checksum commit keep-git-dir submodules mtime
fetch-by-commit`` carry options.

URL parsing follows Go's ``net/url`` where it decides git-or-not (scheme,
query, escapes, port, host characters); ``remote`` keeps the user's spelling
of the URL minus its options (Go would re-escape some userinfo spellings).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus

from grammar.errors import GrammarError
from grammar.gotext import GO_BOOLS, quote
from grammar.records import record


class GitRefError(GrammarError):
    """A git source whose options are invalid (conflicting refs, unknown query key...)."""


@record
class GitRef:
    """A parsed git source; field meanings are upstream's ``GitRef``."""

    remote: str  # what to pass to git: the URL without fragment and query
    short_name: str  # last path element without ".git"
    ref: str = ""  # branch, tag, commit or full ref; "" = default branch
    checksum: str = ""  # commit the ref must resolve to
    subdir: str = ""
    indistinguishable_from_local: bool = False  # "github.com/x/y" form (deprecated)
    unencrypted_tcp: bool = False  # git:// or http://
    keep_git_dir: bool | None = None
    submodules: bool | None = None
    mtime: str = ""
    fetch_by_commit: bool = False


_GIT_SCHEMES = frozenset({"http", "https", "ssh", "git"})
_FLAG_KEYS = frozenset({"submodules", "keep-git-dir", "fetch-by-commit"})  # may be given without a value
_MTIME_VALUES = frozenset({"commit", "checkout"})
_EXPLICIT_SCHEME = r"[a-zA-Z0-9]+://"
_SCP_LIKE = r"(?:([a-zA-Z0-9_-]+)@)?([a-zA-Z0-9.-]+):(.*?)(?:\?(.*?))?(?:#(.*))?"
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:[]<>\"")
_USERINFO_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:~!$&'()*+,;=%@")
_HEX = frozenset("0123456789abcdefABCDEF")


@record
class _Url:
    """What ParseGitRef needs of a Go ``url.URL``."""

    remote: str
    path: str
    query: list[tuple[str, list[str]]]
    fragment: str
    scheme: str = ""
    opaque: str = ""  # the text after "scheme:" when no "/" follows


def parse_git_ref(source: str) -> GitRef | None:
    """The git reference ``source`` names, or None when it is not a git source.

    Raises ``GitRefError`` for a git source with invalid options.
    """
    if source.startswith(("./", "../")):
        return None
    indistinguishable = source.startswith("github.com/")
    url = _parse_go_url(source) if indistinguishable else _parse_remote(source)
    if url is None:
        return None
    remote = url.remote.removeprefix("https://") if indistinguishable else url.remote
    ref, _, subdir = url.fragment.partition(":")
    options = _QueryOptions(ref=ref, subdir=subdir)
    options.load(url.query)
    return GitRef(
        remote=remote,
        short_name=remote.rsplit("/", 1)[-1].removesuffix(".git"),
        ref=options.ref,
        checksum=options.checksum,
        subdir=options.subdir,
        indistinguishable_from_local=indistinguishable,
        unencrypted_tcp=url.scheme in ("http", "git"),
        keep_git_dir=options.keep_git_dir,
        submodules=options.submodules,
        mtime=options.mtime,
        fetch_by_commit=options.fetch_by_commit,
    )


def _parse_remote(source: str) -> _Url | None:
    """gitutil ``ParseURL``: an explicit git scheme, else an SCP-like address."""
    explicit = re.match(_EXPLICIT_SCHEME, source)
    if explicit:
        if explicit.group()[:-3].lower() not in _GIT_SCHEMES:
            return None
        url = _parse_go_url(source)
        if url is None or (url.scheme in ("http", "https") and not url.path.endswith(".git")):
            return None  # an HTTP URL is a git repository only when its path ends in ".git"
        return url
    return _parse_scp_like(source)


def _parse_scp_like(source: str) -> _Url | None:
    # A string Go parses as "scheme:/path" is a URL, not an SCP address.
    go_url = _parse_go_url(source)
    if go_url is not None and go_url.scheme and not go_url.opaque:
        return None
    found = re.fullmatch(_SCP_LIKE, source)
    if found is None:
        return None
    user, host, path, raw_query, fragment = found.groups()
    query = _parse_go_query(raw_query or "", strict=True)
    if query is None:
        return None
    remote = f"{user}@{host}:{path}" if user else f"{host}:{path}"
    return _Url(remote, path, query, fragment or "", scheme="ssh")


def _parse_go_url(raw: str) -> _Url | None:
    """Go ``url.Parse`` for the parts that matter here; None where Go reports an error."""
    rest, has_fragment, raw_fragment = raw.partition("#")
    if any(ch < " " or ch == "\x7f" for ch in rest):
        return None
    scheme, rest = _split_scheme(rest)
    if scheme is None:
        return None
    scheme = scheme.lower()
    force_query = rest.endswith("?") and rest.count("?") == 1
    rest, _, raw_query = rest[:-1].partition("?") if force_query else rest.partition("?")
    path = rest
    opaque = ""
    if not rest.startswith("/"):
        if scheme:
            path, opaque = "", rest  # an opaque URL such as "host:path"
        elif ":" in rest.split("/", 1)[0]:
            return None  # Go: first path segment in URL cannot contain colon
    elif rest.startswith("//"):
        authority, slash, tail = rest[2:].partition("/")
        if not _valid_authority(authority):
            return None
        path = slash + tail
    fragment = _go_unescape(raw_fragment) if has_fragment else ""
    if _go_unescape(path) is None or fragment is None:
        return None
    remote_end = len(raw) - len(raw_fragment) - (1 if has_fragment else 0)
    remote = raw[:remote_end]
    if raw_query or "?" in remote:
        remote = remote[: remote.index("?")] + ("?" if force_query else "")
    if scheme:
        remote = scheme + remote[len(scheme) :]
    query = _parse_go_query(raw_query, strict=False) or []
    return _Url(remote, _go_unescape(path) or "", query, fragment, scheme, opaque)


def _split_scheme(raw: str) -> tuple[str | None, str]:
    """Go ``getScheme``: ("", raw) when there is none, (None, raw) for a leading ':'."""
    for index, ch in enumerate(raw):
        if ch.isascii() and ch.isalpha():
            continue
        if ch.isascii() and (ch.isdigit() or ch in "+-."):
            if index == 0:
                return "", raw
            continue
        if ch == ":":
            return (None, raw) if index == 0 else (raw[:index], raw[index + 1 :])
        return "", raw
    return "", raw


def _valid_authority(authority: str) -> bool:
    userinfo, at, host = authority.rpartition("@")
    if at and any(ch not in _USERINFO_CHARS for ch in userinfo):
        return False
    if host.startswith("["):
        close = host.find("]")
        return close > 0 and _valid_port(host[close + 1 :])
    name, colon, port = host.rpartition(":")
    if colon and not _valid_port(colon + port):
        return False
    return all(ch in _HOST_CHARS or ch >= "\x80" for ch in (name if colon else host))


def _valid_port(port: str) -> bool:
    return port == "" or (port.startswith(":") and port[1:].isascii() and (port[1:].isdigit() or port == ":"))


def _go_unescape(text: str) -> str | None:
    """Percent-decoding that fails on a malformed escape, like Go (Python's passes it through)."""
    index = text.find("%")
    while index >= 0:
        if len(text) < index + 3 or text[index + 1] not in _HEX or text[index + 2] not in _HEX:
            return None
        index = text.find("%", index + 3)
    return unquote(text, errors="surrogateescape")


def _parse_go_query(raw: str, *, strict: bool) -> list[tuple[str, list[str]]] | None:
    """Go ``url.ParseQuery``; a bad pair is skipped, or fails everything when ``strict``."""
    values: dict[str, list[str]] = {}
    for pair in raw.split("&"):
        bad = ";" in pair
        key, _, value = pair.partition("=")
        if not bad and (_go_unescape(key.replace("+", " ")) is None or _go_unescape(value.replace("+", " ")) is None):
            bad = True
        if bad:
            if strict:
                return None
            continue
        if key:
            values.setdefault(unquote_plus(key), []).append(unquote_plus(value))
    return list(values.items())


@dataclass(slots=True)
class _QueryOptions:
    """Upstream ``GitRef.loadQuery``: fold query options into the fragment's ones."""

    ref: str = ""
    subdir: str = ""
    checksum: str = ""
    keep_git_dir: bool | None = None
    submodules: bool | None = None
    mtime: str = ""
    fetch_by_commit: bool = False

    def load(self, query: list[tuple[str, list[str]]]) -> None:
        tag = branch = ""
        for key, values in query:
            if len(values) > 1:
                raise GitRefError(f"query {quote(key)} has multiple values")
            value = values[0]
            if not value and key not in _FLAG_KEYS:
                raise GitRefError(f"query {quote(key)} has no value")
            if key == "ref":
                self.ref = _agree(self.ref, value)
            elif key == "tag":
                tag = value
            elif key == "branch":
                branch = value
            elif key == "subdir":
                if self.subdir and self.subdir != value:
                    raise GitRefError(f"subdir conflicts: {quote(self.subdir)} vs {quote(value)}")
                self.subdir = value
            elif key in ("checksum", "commit"):
                self.checksum = value
            elif key == "keep-git-dir":
                self.keep_git_dir = _go_bool(key, value)
            elif key == "submodules":
                self.submodules = _go_bool(key, value)
            elif key == "fetch-by-commit":
                self.fetch_by_commit = _go_bool(key, value)
            elif key == "mtime":
                if value not in _MTIME_VALUES:
                    raise GitRefError(f"invalid mtime value: {quote(value)}")
                self.mtime = value
            else:
                raise GitRefError(f"unexpected query {quote(key)}")
        if tag:
            self.ref = _agree(self.ref, tag if tag.startswith("refs/tags/") else "refs/tags/" + tag)
        if branch:
            if tag:
                raise GitRefError("branch conflicts with tag")
            self.ref = _agree(self.ref, branch if branch.startswith("refs/heads/") else "refs/heads/" + branch)
        if self.checksum and not self.ref and not self.fetch_by_commit:
            # A pinned commit is also what to check out, unless it is fetched by commit directly.
            self.ref = self.checksum


def _agree(current: str, wanted: str) -> str:
    if current and current != wanted:
        raise GitRefError(f"ref conflicts: {quote(current)} vs {quote(wanted)}")
    return wanted


def _go_bool(key: str, value: str) -> bool:
    """``strconv.ParseBool``; a flag key given without a value means true."""
    if not value:
        return True
    if value in GO_BOOLS:
        return GO_BOOLS[value]
    raise GitRefError(f"invalid {key} value: {quote(value)}")
