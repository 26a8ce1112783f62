#!/usr/bin/env python3
"""Compare pybuild's images with ``docker build`` (BuildKit) on the cases in compare_cases/.

A development tool, not a test: it needs a running dockerd and prints a report.

Each case is a directory ``compare_cases/<name>/`` holding a Dockerfile and its context.
It is copied to a scratch directory first; an executable-or-not ``setup.sh`` in it is run
there with bash (then deleted) to make what git cannot keep: hardlinks, tarballs, odd modes,
empty directories. Both engines then build that same copy. Options for a case are comment
lines anywhere in its Dockerfile::

    # compare: build-arg NAME=VALUE     (repeatable)
    # compare: target STAGE
    # compare: needs OTHER-CASE         (built first, tagged cmp-OTHER-CASE, e.g. ONBUILD parents)
    # compare: dockerfile NAME          (a Dockerfile under another name, passed with -f)
    # compare: note TEXT                (printed with the case)
    # compare: flag ARG                 (an extra build CLI argument for both, e.g. --add-host=a:1.2.3.4)
    # compare: serve DIR                (serve the context's DIR over http on 127.0.0.1 while the case
                                         builds; ``{serve}`` in build-arg/flag values is its base URL)
    # compare: accept REGEX -- WHY      (a difference matching REGEX is known and accepted: docker 26
                                         is older than the BuildKit semantics pybuild follows)
    # compare: docker-lacks WHY         (docker 26 cannot build the case: a newer Dockerfile feature)

Known differences are listed as KNOWN with their reason and do not count: a case whose
differences are all accepted is "SAME+KNOWN"; a ``docker-lacks`` case that only pybuild
builds is "DOCKER-TOO-OLD".

Both images are flattened by this script itself (its own layer walker: whiteouts, opaque
directories, hardlinks), not by pybuild's runtime, so a bug in pybuild's apply code cannot
hide one in its diff code. Compared: every path's type, mode (incl. setuid/setgid/sticky),
uid, gid, sha256 of content, symlink target, device numbers, and hardlink groups; the
config fields Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes, Labels,
StopSignal, Healthcheck, Shell, OnBuild; os, architecture, variant. mtimes, created,
diffIDs and history are not compared, except with ``--layers``: then each layer pair is
reported as the same diffID, or by what differs in its tar (entries present in one only, entry
order, raw USTAR header fields, PAX records, extension header names; entries whose only
difference is the mtime are counted). Pass ``--build-arg``-free cases; a case can set
``# compare: build-arg SOURCE_DATE_EPOCH=...`` (docker 26's own image store ignores
``rewrite-timestamp``, so its file mtimes stay unclamped while pybuild clamps them).

Docker's side: ``docker build`` then ``docker save`` (layers + config blob). pybuild's side:
``pybuild --root R build`` then its OCI layout (``pybuild inspect`` for manifest + config,
``R/blobs/sha256/*`` for layers).

Usage::

    DOCKER_HOST=unix:///run/docker-compare.sock \\
      .venv/bin/python tests/bench/compare_docker.py [--root /tmp/cmp-root] [--only a,b] \\
      [--no-timing] [--json out.json]

The bases ``busybox:local`` and ``debian:local`` must exist in both engines (``docker
import`` / ``pybuild import``; see samples/busybox-base/make-rootfs.sh and debootstrap).
Add ``--network none`` to keep RUN steps off pybuild's shared bridge.

The comparison dockerd (dev machines only; no test needs it): bookworm's ``docker.io``
(runc, containerd) plus trixie's ``docker.io``, ``docker-cli``, ``docker-buildx`` and
``containerd`` .debs unpacked with ``dpkg-deb -x`` into /opt/docker-trixie (docker 26.1,
BuildKit 0.13, dockerfile frontend 1.7: no ``COPY --parents/--exclude``, no ``ADD --unpack``,
symbolic ``--chmod`` silently ignored, ``--chmod=${VAR}`` not expanded (dropped), no
``TARGETSTAGE`` built-in ARG, ``ADD --chown`` not applied to archive members; a ``# syntax=``
line fails, as it needs Docker Hub). Started by::

    PATH=/opt/docker-trixie/usr/bin:/opt/docker-trixie/usr/sbin:$PATH \
      /opt/docker-trixie/usr/sbin/dockerd --data-root /var/lib/docker-compare \
      --exec-root /run/docker-compare-exec --pidfile /run/docker-compare.pid \
      -H unix:///run/docker-compare.sock --iptables=false --ip6tables=false &

(``--bridge=none`` breaks BuildKit's RUN: "network bridge not found"). Stop it with
``kill $(cat /run/docker-compare.pid)``.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[1]
CASES = HERE / "compare_cases"
CONFIG_FIELDS = ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes",
                 "Labels", "StopSignal", "Healthcheck", "Shell", "OnBuild"]
# Files a container runtime may leave as empty mount points; reported as notes, not differences.
MOUNT_STUBS = {"/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/.dockerenv"}


# ---------------------------------------------------------------------------------------------
# A small, independent layer flattener
# ---------------------------------------------------------------------------------------------

@dataclass
class Entry:
    kind: str            # file, dir, symlink, char, block, fifo
    mode: int            # permission bits incl. 07000
    uid: int
    gid: int
    content: str = ""    # sha256 of a file's content, or a symlink's target, or "maj,min"
    size: int = 0
    inode: int = 0       # shared by hardlinked paths
    xattrs: dict = field(default_factory=dict)

    def describe(self) -> str:
        extra = ""
        if self.kind == "file":
            extra = f" size={self.size} sha256={self.content[:12]}"
        elif self.kind == "symlink":
            extra = f" -> {self.content}"
        elif self.kind in ("char", "block"):
            extra = f" dev={self.content}"
        xa = f" xattrs={sorted(self.xattrs)}" if self.xattrs else ""
        return f"{self.kind} {self.mode:04o} {self.uid}:{self.gid}{extra}{xa}"


def _norm(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    name = name.lstrip("/")
    if name in (".", ""):
        return "/"
    return "/" + name.rstrip("/")


class Tree:
    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self._next_inode = 1
        self.layer_notes: list[str] = []

    def _remove_subtree(self, path: str) -> None:
        self.entries.pop(path, None)
        prefix = path.rstrip("/") + "/"
        for p in [p for p in self.entries if p.startswith(prefix)]:
            del self.entries[p]

    def apply(self, fileobj, label: str) -> None:
        # Streamed: whiteouts must apply to the lower layers only; OCI/docker writers put
        # them in the same tar as the additions. Collect members first (file contents hashed
        # on the way), then delete, then add.
        members = []
        with tarfile.open(fileobj=fileobj, mode="r|*") as tar:
            for m in tar:
                data_hash, size = "", 0
                if m.isreg():
                    f = tar.extractfile(m)
                    h = hashlib.sha256()
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
                        size += len(chunk)
                    data_hash = h.hexdigest()
                members.append((m, data_hash, size))
        for m, _, _ in members:
            path = _norm(m.name)
            base = path.rsplit("/", 1)[-1]
            parent = path.rsplit("/", 1)[0] or "/"
            if base == ".wh..wh..opq":
                prefix = parent.rstrip("/") + "/"
                for p in [p for p in self.entries if p.startswith(prefix)]:
                    del self.entries[p]
            elif base.startswith(".wh."):
                victim = (parent.rstrip("/") + "/" + base[4:])
                if victim not in self.entries:
                    self.layer_notes.append(f"{label}: whiteout for absent {victim}")
                self._remove_subtree(victim)
        for m, data_hash, size in members:
            path = _norm(m.name)
            base = path.rsplit("/", 1)[-1]
            if base.startswith(".wh."):
                continue
            xattrs = {k[len("SCHILY.xattr."):]: v for k, v in (m.pax_headers or {}).items()
                      if k.startswith("SCHILY.xattr.")}
            perm = m.mode & 0o7777
            if m.islnk():
                target = _norm(m.linkname)
                src = self.entries.get(target)
                if src is None:
                    self.layer_notes.append(f"{label}: hardlink {path} to absent {target}")
                    continue
                if path in self.entries and self.entries[path].kind == "dir":
                    self._remove_subtree(path)
                self.entries[path] = src  # same object: same inode
                continue
            if m.isdir():
                kind, content = "dir", ""
            elif m.isreg():
                kind, content = "file", data_hash
            elif m.issym():
                kind, content = "symlink", m.linkname
            elif m.ischr():
                kind, content = "char", f"{m.devmajor},{m.devminor}"
            elif m.isblk():
                kind, content = "block", f"{m.devmajor},{m.devminor}"
            elif m.isfifo():
                kind, content = "fifo", ""
            else:
                kind, content = f"type{m.type!r}", ""
            old = self.entries.get(path)
            if old is not None and old.kind == "dir" and kind != "dir":
                self._remove_subtree(path)
            e = Entry(kind, perm, m.uid, m.gid, content, size, self._next_inode, xattrs)
            self._next_inode += 1
            self.entries[path] = e

    def hardlink_groups(self) -> set[tuple[str, ...]]:
        by_id: dict[int, list[str]] = {}
        for p, e in self.entries.items():
            if e.kind == "file":
                by_id.setdefault(id(e), []).append(p)
        return {tuple(sorted(v)) for v in by_id.values() if len(v) > 1}


def open_blob(path: Path):
    """An uncompressed stream of a layer blob (tar, gzip, zstd)."""
    f = open(path, "rb")
    magic = f.read(4)
    f.seek(0)
    if magic == b"\x28\xb5\x2f\xfd":
        try:
            import zstandard
            return zstandard.ZstdDecompressor().stream_reader(f)
        except ImportError:
            f.close()
            out = subprocess.run(["zstd", "-dc", str(path)], check=True, capture_output=True).stdout
            return io.BytesIO(out)
    return f  # tarfile's r|* handles gzip/bz2/xz itself


# ---------------------------------------------------------------------------------------------
# Layer tar structure (--layers): raw headers, order, size and diffID of each layer
# ---------------------------------------------------------------------------------------------

HEADER_FIELDS = [("name", 0, 100), ("mode", 100, 8), ("uid", 108, 8), ("gid", 116, 8), ("size", 124, 12),
                 ("mtime", 136, 12), ("chksum", 148, 8), ("type", 156, 1), ("linkname", 157, 100),
                 ("magic", 257, 8), ("uname", 265, 32), ("gname", 297, 32), ("devmajor", 329, 8),
                 ("devminor", 337, 8), ("prefix", 345, 155)]


@dataclass
class LayerShape:
    diff_id: str
    size: int
    entries: list[tuple[str, dict, dict, bytes]]  # name, raw header fields, PAX records, raw extension header


def layer_shape(stream) -> LayerShape:
    raw = stream.read()
    entries = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        for m in tar:
            header = raw[m.offset_data - 512:m.offset_data]
            extension = raw[m.offset:m.offset + 512] if m.offset != m.offset_data - 512 else b""
            entries.append((m.name, {k: header[o:o + n] for k, o, n in HEADER_FIELDS}, dict(m.pax_headers),
                            extension))
    return LayerShape("sha256:" + hashlib.sha256(raw).hexdigest(), len(raw), entries)


def compare_layer_shapes(docker: list[LayerShape], pybuild: list[LayerShape]) -> list[str]:
    """Per layer: the same diffID, or what differs in the tar structure (mtimes summed up)."""
    lines = [] if len(docker) == len(pybuild) else [f"layer count docker={len(docker)} pybuild={len(pybuild)}"]
    for i, (d, p) in enumerate(zip(docker, pybuild)):
        if d.diff_id == p.diff_id:
            lines.append(f"layer {i}: same diffID {d.diff_id[:19]}")
            continue
        lines.append(f"layer {i}: diffID differs; tar bytes docker={d.size} pybuild={p.size}")
        d_names, p_names = [e[0] for e in d.entries], [e[0] for e in p.entries]
        if only := [n for n in d_names if n not in p_names]:
            lines.append(f"  entries only in docker: {only}")
        if only := [n for n in p_names if n not in d_names]:
            lines.append(f"  entries only in pybuild: {only}")
        common = [n for n in d_names if n in p_names]
        if common != [n for n in p_names if n in d_names]:
            lines.append(f"  entry order differs: docker={common} pybuild={[n for n in p_names if n in d_names]}")
        by_name = {e[0]: e for e in p.entries}
        mtime_only = 0
        for name, header, pax, extension in d.entries:
            if name not in by_name:
                continue
            _, p_header, p_pax, p_extension = by_name[name]
            fields = [k for k, _, _ in HEADER_FIELDS if k != "chksum" and header[k] != p_header[k]]
            if fields == ["mtime"]:
                mtime_only += 1
                continue
            parts = [f"{k} {header[k]!r} vs {p_header[k]!r}" for k in fields]
            if pax != p_pax:
                parts.append(f"PAX {sorted(pax)} vs {sorted(p_pax)}")
            if extension[:100] != p_extension[:100]:
                parts.append(f"extension header {extension[:40]!r} vs {p_extension[:40]!r}")
            if parts:
                lines.append(f"  {name[:60]}: " + "; ".join(parts))
        if mtime_only:
            lines.append(f"  {mtime_only} entries differ only in mtime")
    return lines


# ---------------------------------------------------------------------------------------------
# The two engines
# ---------------------------------------------------------------------------------------------

@dataclass
class Built:
    ok: bool
    seconds: float
    log: str
    image_id: str = ""


def run(cmd: list[str], cwd: Path | None = None, env: dict | None = None, timeout: int = 900) -> tuple[int, str, float]:
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, errors="replace", timeout=timeout)
        rc, out = p.returncode, p.stdout
    except subprocess.TimeoutExpired as exc:
        rc, out = 124, f"timeout after {timeout}s\n{exc.stdout or ''}"
    return rc, out, time.monotonic() - t0


class Docker:
    def __init__(self, binary: str, scratch: Path, network: str = "") -> None:
        self.binary = binary
        self.scratch = scratch
        self.network = [f"--network={network}"] if network else []
        self.env = dict(os.environ, DOCKER_BUILDKIT="1")

    def build(self, tag: str, ctx: Path, dockerfile: Path, args: list[str], no_cache: bool) -> Built:
        cmd = [self.binary, "build", "--progress=plain", "-t", tag, "-f", str(dockerfile), *self.network, *args]
        if no_cache:
            cmd.append("--no-cache")
        rc, out, secs = run(cmd + [str(ctx)], env=self.env)
        image_id = ""
        if rc == 0:
            _, iid, _ = run([self.binary, "image", "inspect", "-f", "{{.Id}}", tag], env=self.env)
            image_id = iid.strip()
        return Built(rc == 0, secs, out, image_id)

    def image(self, tag: str, shapes: list | None = None) -> tuple[dict, Tree]:
        archive = self.scratch / "docker-save.tar"
        rc, out, _ = run([self.binary, "save", "-o", str(archive), tag], env=self.env)
        if rc:
            raise RuntimeError(f"docker save failed: {out}")
        tree = Tree()
        try:
            with tarfile.open(archive) as outer:
                manifest = json.load(outer.extractfile("manifest.json"))[0]
                config = json.load(outer.extractfile(manifest["Config"]))
                for i, layer in enumerate(manifest["Layers"]):
                    member = outer.extractfile(layer)
                    tmp = self.scratch / "docker-layer"
                    with open(tmp, "wb") as f:
                        shutil.copyfileobj(member, f)
                    with open_blob(tmp) as blob:
                        tree.apply(blob, f"docker layer {i}")
                    if shapes is not None:
                        with open_blob(tmp) as blob:
                            shapes.append(layer_shape(blob))
                    tmp.unlink()
        finally:
            archive.unlink(missing_ok=True)
        return config, tree


class Pybuild:
    def __init__(self, binary: str, root: Path, network: str = "") -> None:
        self.binary = binary
        self.root = root
        self.network = [f"--network={network}"] if network else []

    def build(self, tag: str, ctx: Path, dockerfile: Path, args: list[str], no_cache: bool) -> Built:
        cmd = [self.binary, "--root", str(self.root), "build", "--progress=plain", "-t", tag,
               "-f", str(dockerfile), *self.network, *args]
        if no_cache:
            cmd.append("--no-cache")
        iid = self.root.parent / f".{self.root.name}-iid"
        cmd += ["--iidfile", str(iid)]
        rc, out, secs = run(cmd + [str(ctx)])
        image_id = iid.read_text().strip() if rc == 0 and iid.exists() else ""
        return Built(rc == 0, secs, out, image_id)

    def image(self, tag: str, shapes: list | None = None) -> tuple[dict, Tree]:
        rc, out, _ = run([self.binary, "--root", str(self.root), "inspect", tag])
        if rc:
            raise RuntimeError(f"pybuild inspect failed: {out}")
        info = json.loads(out)[0]
        config = info["Config"]
        tree = Tree()
        for i, layer in enumerate(info["Manifest"]["layers"]):
            algo, hexd = layer["digest"].split(":", 1)
            with open_blob(self.root / "blobs" / algo / hexd) as blob:
                tree.apply(blob, f"pybuild layer {i}")
            if shapes is not None:
                with open_blob(self.root / "blobs" / algo / hexd) as blob:
                    shapes.append(layer_shape(blob))
        return config, tree


# ---------------------------------------------------------------------------------------------
# Comparing
# ---------------------------------------------------------------------------------------------

def compare_config(d: dict, p: dict) -> list[str]:
    diffs = []
    for key in ("os", "architecture", "variant", "os.version"):
        if d.get(key) != p.get(key):
            diffs.append(f"config {key}: docker={d.get(key)!r} pybuild={p.get(key)!r}")
    dc, pc = d.get("config") or {}, p.get("config") or {}
    for key in CONFIG_FIELDS:
        dv, pv = dc.get(key), pc.get(key)
        if dv == pv:
            continue
        if not dv and not pv:
            # null vs missing is the same thing; [] / {} / "" vs null is worth a (minor) line
            if dv is None and pv is None:
                continue
            diffs.append(f"config {key} (minor, empty vs unset): docker={json.dumps(dv)} pybuild={json.dumps(pv)}")
            continue
        if key == "Env" and isinstance(dv, list) and isinstance(pv, list) and sorted(dv) == sorted(pv):
            diffs.append(f"config Env order: docker={json.dumps(dv)} pybuild={json.dumps(pv)}")
            continue
        diffs.append(f"config {key}: docker={json.dumps(dv)} pybuild={json.dumps(pv)}")
    others = (set(dc) | set(pc)) - set(CONFIG_FIELDS)
    for key in sorted(others):
        if dc.get(key) != pc.get(key) and (dc.get(key) or pc.get(key)):
            diffs.append(f"config {key} (not in the compared set, info): docker={json.dumps(dc.get(key))} "
                         f"pybuild={json.dumps(pc.get(key))}")
    return diffs


def compare_trees(d: Tree, p: Tree) -> tuple[list[str], list[str]]:
    diffs, notes = [], []
    for path in sorted(set(d.entries) | set(p.entries)):
        de, pe = d.entries.get(path), p.entries.get(path)
        if de is None or pe is None:
            present = de or pe
            if path in MOUNT_STUBS and present.kind == "file" and present.size == 0:
                notes.append(f"mount stub {path} only in {'docker' if de else 'pybuild'}")
                continue
            if de is None:
                diffs.append(f"{path}: only in pybuild ({pe.describe()})")
            else:
                diffs.append(f"{path}: only in docker ({de.describe()})")
            continue
        parts = []
        if de.kind != pe.kind:
            parts.append(f"type docker={de.kind} pybuild={pe.kind}")
        if de.mode != pe.mode and not (de.kind == pe.kind == "symlink"):
            parts.append(f"mode docker={de.mode:04o} pybuild={pe.mode:04o}")
        if de.uid != pe.uid or de.gid != pe.gid:
            parts.append(f"owner docker={de.uid}:{de.gid} pybuild={pe.uid}:{pe.gid}")
        if de.kind == pe.kind and de.content != pe.content:
            if de.kind == "file":
                parts.append(f"content docker=size {de.size} {de.content[:12]} pybuild=size {pe.size} {pe.content[:12]}")
            else:
                parts.append(f"target docker={de.content!r} pybuild={pe.content!r}")
        if de.xattrs != pe.xattrs:
            parts.append(f"xattrs docker={sorted(de.xattrs)} pybuild={sorted(pe.xattrs)}")
        if parts:
            diffs.append(f"{path}: " + "; ".join(parts))
    dg, pg = d.hardlink_groups(), p.hardlink_groups()
    for g in sorted(dg - pg):
        diffs.append(f"hardlink group only in docker: {' = '.join(g)}")
    for g in sorted(pg - dg):
        diffs.append(f"hardlink group only in pybuild: {' = '.join(g)}")
    return diffs, notes


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    directory: Path
    build_args: list[str] = field(default_factory=list)
    target: str = ""
    needs: list[str] = field(default_factory=list)
    dockerfile: str = "Dockerfile"
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    serve: str = ""
    accepted: list[tuple[re.Pattern, str]] = field(default_factory=list)
    docker_lacks: str = ""

    @classmethod
    def load(cls, directory: Path) -> "Case":
        case = cls(directory.name, directory)
        df = directory / "Dockerfile"
        text = df.read_text() if df.exists() else ""
        for other in directory.iterdir():
            if other.name.endswith("Dockerfile") and other.name != "Dockerfile":
                text += "\n" + other.read_text()
        for line in text.splitlines():
            line = line.strip()
            if not line.startswith("# compare:"):
                continue
            word, _, rest = line[len("# compare:"):].strip().partition(" ")
            rest = rest.strip()
            if word == "build-arg":
                case.build_args.append(rest)
            elif word == "target":
                case.target = rest
            elif word == "needs":
                case.needs.append(rest)
            elif word == "dockerfile":
                case.dockerfile = rest
            elif word == "note":
                case.notes.append(rest)
            elif word == "flag":
                case.flags.append(rest)
            elif word == "serve":
                case.serve = rest
            elif word == "accept":
                pattern, _, why = rest.partition(" -- ")
                case.accepted.append((re.compile(pattern.strip()), why.strip()))
            elif word == "docker-lacks":
                case.docker_lacks = rest
        return case

    def cli_args(self, served: str = "") -> list[str]:
        args = []
        for a in self.build_args:
            args += ["--build-arg", a.replace("{serve}", served)]
        if self.target:
            args += ["--target", self.target]
        return args + [f.replace("{serve}", served) for f in self.flags]

    def why_accepted(self, diff: str) -> str | None:
        for pattern, why in self.accepted:
            if pattern.search(diff):
                return why or "accepted"
        return None


def prepare_context(case: Case, scratch: Path) -> Path:
    ctx = scratch / "ctx" / case.name
    if ctx.exists():
        shutil.rmtree(ctx)
    shutil.copytree(case.directory, ctx, symlinks=True)
    setup = ctx / "setup.sh"
    if setup.exists():
        subprocess.run(["bash", "-e", str(setup)], cwd=ctx, check=True)
        setup.unlink()
    return ctx


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass


class Served:
    """A directory on http://127.0.0.1:PORT for one case (BuildKit fetches ADD URLs from dockerd's
    own network namespace, the host's, so both engines reach it)."""

    def __init__(self, directory: Path) -> None:
        handler = functools.partial(QuietHandler, directory=str(directory))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Served":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Result:
    name: str
    status: str = ""
    docker: dict = field(default_factory=dict)
    pybuild: dict = field(default_factory=dict)
    diffs: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error_docker: str = ""
    error_pybuild: str = ""


def tail(text: str, n: int = 12) -> str:
    return "\n".join(text.rstrip().splitlines()[-n:])


def run_case(case: Case, docker: Docker, pyb: Pybuild, scratch: Path, timing: bool,
             built: set[str], all_cases: dict[str, Case], layers: bool = False) -> Result:
    res = Result(case.name, notes=list(case.notes))
    for need in case.needs:
        if need not in built and need in all_cases:
            dep = run_case(all_cases[need], docker, pyb, scratch, False, built, all_cases)
            res.notes.append(f"built prerequisite {need}: {dep.status}")
    ctx = prepare_context(case, scratch)
    served = Served(ctx / case.serve) if case.serve else contextlib.nullcontext()
    with served:
        return _build_and_compare(case, docker, pyb, ctx, timing, built, res,
                                  case.cli_args(served.url if case.serve else ""), layers)


def _build_and_compare(case: Case, docker: Docker, pyb: Pybuild, ctx: Path, timing: bool,
                       built: set[str], res: Result, args: list[str], layers: bool) -> Result:
    dockerfile = ctx / case.dockerfile
    tag = f"cmp-{case.name}"
    db = docker.build(tag, ctx, dockerfile, args, no_cache=timing)
    pb = pyb.build(tag, ctx, dockerfile, args, no_cache=timing)
    res.docker = {"ok": db.ok, "cold_s": round(db.seconds, 2), "id": db.image_id}
    res.pybuild = {"ok": pb.ok, "cold_s": round(pb.seconds, 2), "id": pb.image_id}
    if not db.ok:
        res.error_docker = tail(db.log)
    if not pb.ok:
        res.error_pybuild = tail(pb.log)
    if timing:
        if db.ok:
            db2 = docker.build(tag, ctx, dockerfile, args, no_cache=False)
            res.docker["cached_s"] = round(db2.seconds, 2)
            if db2.image_id != db.image_id:
                res.notes.append(f"docker cached rebuild gave another image ID ({db2.image_id[:19]})")
        if pb.ok:
            pb2 = pyb.build(tag, ctx, dockerfile, args, no_cache=False)
            res.pybuild["cached_s"] = round(pb2.seconds, 2)
            if not pb2.ok:
                res.notes.append("pybuild cached rebuild FAILED: " + tail(pb2.log, 6))
            elif pb2.image_id != pb.image_id:
                res.notes.append(f"pybuild cached rebuild gave another image ID ({pb.image_id[:19]} -> {pb2.image_id[:19]})")
    if db.ok != pb.ok:
        res.status = "DOCKER-ONLY-OK" if db.ok else "PYBUILD-ONLY-OK"
        if pb.ok and case.docker_lacks:
            res.status = "DOCKER-TOO-OLD"
            res.notes.append(f"known: {case.docker_lacks}")
            res.error_docker = tail(res.error_docker, 1)
        built.add(case.name)
        return res
    if not db.ok:
        res.status = "BOTH-FAILED"
        built.add(case.name)
        return res
    try:
        dshapes, pshapes = ([], []) if layers else (None, None)
        dconf, dtree = docker.image(tag, dshapes)
        pconf, ptree = pyb.image(tag, pshapes)
        if layers:
            res.layers = compare_layer_shapes(dshapes, pshapes)
    except Exception as exc:  # report and go on
        res.status = "COMPARE-ERROR"
        res.notes.append(f"{type(exc).__name__}: {exc}")
        return res
    tdiffs, tnotes = compare_trees(dtree, ptree)
    for diff in compare_config(dconf, pconf) + tdiffs:
        why = case.why_accepted(diff)
        if why is None:
            res.diffs.append(diff)
        else:
            res.known.append(f"{diff}  [{why}]")
    res.notes += tnotes + dtree.layer_notes + ptree.layer_notes
    if res.diffs:
        res.status = f"{len(res.diffs)} DIFF"
    else:
        res.status = "SAME+KNOWN" if res.known else "SAME"
    built.add(case.name)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=Path, default=CASES)
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--root", type=Path, default=Path("/tmp/cmp-root"), help="pybuild state root")
    ap.add_argument("--docker", default=os.environ.get("DOCKER", "/opt/docker-trixie/usr/bin/docker"
                    if Path("/opt/docker-trixie/usr/bin/docker").exists() else "docker"))
    ap.add_argument("--pybuild", default=str(PROJECT / ".venv" / "bin" / "pybuild"))
    ap.add_argument("--no-timing", action="store_true", help="one build each, with cache, no timing pass")
    ap.add_argument("--network", default="", help="pass --network=MODE to both builds (e.g. none)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--verbose", "-v", action="store_true", help="print build logs of failures in full")
    ap.add_argument("--layers", action="store_true",
                    help="also compare each layer's tar structure (diffID, entry order, raw headers, PAX records)")
    opts = ap.parse_args()
    os.environ.setdefault("DOCKER_HOST", "unix:///run/docker-compare.sock")

    all_cases = {d.name: Case.load(d) for d in sorted(opts.cases.iterdir()) if d.is_dir()}
    chosen = [n for n in opts.only.split(",") if n] or list(all_cases)
    scratch = Path(tempfile.mkdtemp(prefix="compare-docker-"))
    docker = Docker(opts.docker, scratch, opts.network)
    pyb = Pybuild(opts.pybuild, opts.root, opts.network)
    results: list[Result] = []
    built: set[str] = set()
    try:
        for name in chosen:
            case = all_cases[name]
            print(f"=== {name}", flush=True)
            res = run_case(case, docker, pyb, scratch, not opts.no_timing, built, all_cases, opts.layers)
            results.append(res)
            t = (f"docker {res.docker.get('cold_s')}s/{res.docker.get('cached_s', '-')}s  "
                 f"pybuild {res.pybuild.get('cold_s')}s/{res.pybuild.get('cached_s', '-')}s (cold/cached)")
            print(f"    {res.status}   {t}")
            for d in res.diffs:
                print(f"    DIFF  {d}")
            for d in res.known:
                print(f"    KNOWN {d}")
            for line in res.layers:
                print(f"    LAYER {line}")
            for n in res.notes:
                print(f"    note  {n}")
            if res.error_docker:
                print("    docker error:\n      " + res.error_docker.replace("\n", "\n      "))
            if res.error_pybuild:
                print("    pybuild error:\n      " + res.error_pybuild.replace("\n", "\n      "))
            sys.stdout.flush()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("\n=== summary")
    for r in results:
        print(f"  {r.name:32} {r.status:16} docker {r.docker.get('cold_s')}/{r.docker.get('cached_s', '-')}s"
              f"  pybuild {r.pybuild.get('cold_s')}/{r.pybuild.get('cached_s', '-')}s")
    tally: dict[str, int] = {}
    for r in results:
        kind = "DIFF" if r.status.endswith(" DIFF") else r.status
        tally[kind] = tally.get(kind, 0) + 1
    print("  " + ", ".join(f"{kind}: {n}" for kind, n in sorted(tally.items())))
    if opts.json:
        opts.json.write_text(json.dumps([r.__dict__ for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
