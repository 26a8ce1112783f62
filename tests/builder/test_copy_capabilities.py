"""File capabilities (``security.capability``) through COPY, as BuildKit keeps or loses them.

Found side by side with ``docker build``: a capability on a build-context file never reaches the
image (fsutil's receiver sets xattrs before its chown, and the kernel drops the capability on
chown), while one on a file of another stage survives COPY --from, also with --chown.
"""
from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
from test_build_e2e import run_build

from builder.imagestore import ImageStore
from registry_client import ContentStore, open_uncompressed

pytestmark = pytest.mark.privileged

CAPABILITY = "security.capability"
NET_RAW = b"\x01\x00\x00\x02\x00 \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"  # cap_net_raw+ep


def capabilities(root: Path, reference: str) -> dict[str, bytes | None]:
    """path -> the capability each layer's tar records for it (None: a file without one); last layer wins."""
    image = ImageStore(root).image(reference)
    found: dict[str, bytes | None] = {}
    for layer in image.manifest.layers:
        with ContentStore(root).open(layer.digest) as blob, \
                tarfile.open(fileobj=open_uncompressed(blob, layer.media_type), mode="r|") as tar:
            for member in tar:
                if member.isreg():
                    value = member.pax_headers.get("SCHILY.xattr." + CAPABILITY)
                    found[member.name] = value.encode("utf-8", "surrogateescape") if value is not None else None
    return found


def test_a_context_files_capability_is_dropped_a_stages_is_kept(built_root: Path, tmp_path: Path) -> None:
    (tmp_path / "with-cap").write_text("c\n")
    os.setxattr(tmp_path / "with-cap", CAPABILITY, NET_RAW)
    os.setxattr(tmp_path / "with-cap", "user.note", b"kept on disk, not in layers")
    with tarfile.open(tmp_path / "cap.tar", "w", format=tarfile.PAX_FORMAT) as tar:
        member = tarfile.TarInfo("capfile")
        member.size, member.mode = 8, 0o755
        member.pax_headers = {"SCHILY.xattr." + CAPABILITY: NET_RAW.decode("utf-8", "surrogateescape")}
        tar.addfile(member, io.BytesIO(b"capfile\n"))
    dockerfile = ("FROM busybox:local AS archive\nADD cap.tar /unpacked/\n"
                  "FROM busybox:local\nCOPY with-cap /from-context\n"
                  "COPY --from=archive /unpacked/capfile /from-stage\n"
                  "COPY --from=archive --chown=1:1 /unpacked/capfile /from-stage-chowned\n")
    run_build(built_root, tmp_path, dockerfile, tags=("caps:final",))
    found = capabilities(built_root, "caps:final")
    assert found["from-context"] is None
    assert found["from-stage"] == NET_RAW and found["from-stage-chowned"] == NET_RAW
