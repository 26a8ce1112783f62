"""ADD's http(s) sources: fetched once per build, revalidated against a cache kept across builds.

This is BuildKit's ``source/http``:

* the cache key of a URL source is its *content*: (file name, sha256, Last-Modified), so
  changed remote content reruns the step and unchanged content hits the cache; with
  ``--checksum`` the pinned digest is the key and nothing is asked before a cache miss;
* every build asks the server again. When an earlier download sent an ``ETag``, the
  request carries ``If-None-Match`` (a HEAD first, as some servers mishandle conditional
  GETs) and a match, or a ``304``, reuses the stored content without downloading it;
  BuildKit never sends ``If-Modified-Since``, so neither do we;
* the file gets mode 0600, owner 0:0 and ``Last-Modified`` as its mtime (the epoch when
  the header is missing or unparsable).

Layout under the cache directory: ``content/<sha256 hex>`` holds downloads (immutable,
written to a temp name and renamed) and ``urls/<hash of URL and name>.json`` the ETag,
digest and Last-Modified of the newest download of a URL that sent an ETag.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from builder.copy.add_sources import check_checksum, url_file_name
from builder.copy.errors import DownloadError
from grammar import record

URL_FILE_MODE = 0o600
_TIMEOUT_SECONDS = 60
_CHUNK = 1 << 20


@record
class FetchedFile:
    name: str  # the file's name in the image
    path: str  # host path of the content: shared by builds, so copy it and never change it
    digest: str  # "sha256:<hex>" of the content
    last_modified: str | None  # the Last-Modified header as sent

    @property
    def mtime(self) -> float:
        """The file's mtime in the image: Last-Modified, else the epoch (as BuildKit)."""
        if self.last_modified:
            try:
                return parsedate_to_datetime(self.last_modified).timestamp()
            except (TypeError, ValueError):
                pass
        return 0.0

    def key_material(self) -> list[str]:
        """What the cache key needs of this source (BuildKit's formatCacheKey, minus constant fields)."""
        return [self.name, self.digest, self.last_modified or ""]

    def stage(self, directory: str) -> str:
        """A private copy named ``name`` in ``directory``, with the image's mode and mtime; its name."""
        target = os.path.join(directory, self.name)
        shutil.copyfile(self.path, target)
        os.chmod(target, URL_FILE_MODE)
        os.utime(target, (self.mtime, self.mtime))
        return self.name


class RemoteFiles:
    """The URL sources of one build: each URL is asked once, whatever reads it (the key, then the copy)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._fetched: dict[str, FetchedFile] = {}
        self._lock = threading.Lock()  # stages may run concurrently; one request per URL is enough

    def fetch(self, url: str, checksum: str | None = None) -> FetchedFile:
        """The content of ``url`` for this build (revalidated or downloaded); ``checksum`` is verified."""
        expected = check_checksum(checksum) if checksum else None
        with self._lock:
            fetched = self._fetched.get(url)
            if fetched is None:
                fetched = self._fetched[url] = self._revalidate_or_download(url)
        if expected is not None:
            _verify(fetched, checksum or "", expected)
        return fetched

    def _revalidate_or_download(self, url: str) -> FetchedFile:
        import requests  # lazy: most builds never ADD a URL

        name = url_file_name(url)
        record_path = self._directory / "urls" / f"{_url_hash(url, name)}.json"
        known = _read_record(record_path, self._directory)
        headers = {"User-Agent": "pybuild"}
        try:
            with requests.Session() as session:
                if known is not None:
                    headers["If-None-Match"] = known["etag"]
                    reused = self._reuse(session.head(url, headers={**headers, "Accept-Encoding": "gzip"},
                                                      timeout=_TIMEOUT_SECONDS, allow_redirects=True), known, name)
                    if reused is not None:
                        return reused
                with session.get(url, headers=headers, stream=True, timeout=_TIMEOUT_SECONDS) as response:
                    if response.status_code == 304 and known is not None:
                        reused = self._reuse(response, known, name)
                        if reused is None:
                            raise DownloadError(f"{url}: invalid not-modified ETag: {response.headers.get('ETag')}")
                        return reused
                    if not 200 <= response.status_code < 400:
                        raise DownloadError(f"{url}: invalid response status {response.status_code}")
                    digest, path = self._save(response)
                    fetched = FetchedFile(name, path, digest, response.headers.get("Last-Modified"))
                    if etag := response.headers.get("ETag"):
                        _write_record(record_path, {"etag": _etag_value(etag), "digest": digest,
                                                    "last_modified": fetched.last_modified})
                    return fetched
        except requests.RequestException as error:
            raise DownloadError(f"failed to download {url}: {error}") from None

    def _reuse(self, response: Any, known: dict[str, Any], name: str) -> FetchedFile | None:
        """The stored content when ``response`` (200 or 304) names the ETag we hold."""
        if response.status_code not in (200, 304):
            return None
        etag = _etag_value(response.headers.get("ETag", ""))
        if not etag and response.status_code == 304:
            etag = known["etag"]  # a 304 without an ETag answers the one we sent
        if etag != known["etag"]:
            return None
        path = _content_path(self._directory, known["digest"])
        with contextlib.suppress(FileNotFoundError):
            os.utime(path)  # the download's last use, for ``pybuild cache prune --filter until=``
        return FetchedFile(name, path, known["digest"], known.get("last_modified"))

    def _save(self, response: Any) -> tuple[str, str]:
        content = self._directory / "content"
        content.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        fd, temporary = tempfile.mkstemp(prefix=".download-", dir=content)
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in response.iter_content(chunk_size=_CHUNK):
                    hasher.update(chunk)
                    handle.write(chunk)
            digest = f"sha256:{hasher.hexdigest()}"
            path = _content_path(self._directory, digest)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        return digest, path


def _verify(fetched: FetchedFile, checksum: str, expected: tuple[str, str]) -> None:
    algorithm, hex_digest = expected
    if algorithm == "sha256":
        actual = fetched.digest.partition(":")[2]
    else:
        hasher = hashlib.new(algorithm)
        with open(fetched.path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                hasher.update(chunk)
        actual = hasher.hexdigest()
    if actual != hex_digest:
        raise DownloadError(f"digest mismatch {checksum}: {algorithm}:{actual}")


def _url_hash(url: str, name: str) -> str:
    return hashlib.sha256(f"{url}\0{name}".encode()).hexdigest()


def _content_path(directory: Path, digest: str) -> str:
    return str(directory / "content" / digest.partition(":")[2])


def _etag_value(etag: str) -> str:
    return etag.removeprefix("W/")  # weak and strong tags compare equal, as BuildKit does


def _read_record(path: Path, directory: Path) -> dict[str, Any] | None:
    """The stored ETag record, when it is well formed and its content is still there."""
    try:
        record = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("etag"), str) or not record["etag"]:
        return None
    digest = record.get("digest")
    if not isinstance(digest, str) or not os.path.isfile(_content_path(directory, digest)):
        return None
    return record


def _write_record(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".record-", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        json.dump(record, handle)
    os.replace(temporary, path)
