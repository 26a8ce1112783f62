"""``pybuild save``, ``load`` and ``image prune`` through the CLI, and archives other tools write."""
from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from outputs_images import Entry, layer_tar, store_image, tricky_layers
from registry_commands_support import Pybuild, assert_clean_failure
from registry_client import Digest

from builder.imagestore import ImageStore

NAME = "example.com/app:1"


@pytest.fixture()
def pybuild(tmp_path: Path) -> Pybuild:
    return Pybuild(tmp_path / "root", tmp_path / "docker")


@pytest.fixture()
def stored(pybuild: Pybuild) -> tuple[str, str]:
    """(image ID, manifest digest) of a two-layer image named NAME, stored as a build stores it."""
    descriptor = store_image(pybuild.root, tricky_layers(), NAME)
    return str(ImageStore(pybuild.root).image(descriptor).image_id), str(descriptor.digest)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_save_rmi_load_round_trips_the_image(pybuild: Pybuild, stored: tuple[str, str], tmp_path: Path,
                                             fmt: str) -> None:
    image_id, manifest_digest = stored
    ok(pybuild("save", "--format", fmt, "-o", str(tmp_path / "a.tar"), "example.com/app:1"))
    ok(pybuild("save", "--format", fmt, "-o", str(tmp_path / "b.tar"), "example.com/app:1"))
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    ok(pybuild("rmi", NAME))
    ok(pybuild("image", "prune", "-f"))
    assert ImageStore(pybuild.root).resolve(NAME) is None
    assert ok(pybuild("load", "-i", str(tmp_path / "a.tar"))) == f"Loaded image: {NAME}\n"
    image = ImageStore(pybuild.root).image(NAME)
    assert str(image.image_id) == image_id
    if fmt == "docker":  # plain layers: the stored manifest itself travels
        assert str(image.descriptor.digest) == manifest_digest


def test_load_from_stdin_and_by_id_without_names(pybuild: Pybuild, stored: tuple[str, str], tmp_path: Path) -> None:
    image_id, _ = stored
    ok(pybuild("save", "-o", str(tmp_path / "a.tar"), image_id[7:19]))
    with tarfile.open(tmp_path / "a.tar") as archive:
        assert json.load(archive.extractfile("manifest.json"))[0]["RepoTags"] is None  # type: ignore[arg-type]
        assert "repositories" not in archive.getnames()
    result = subprocess.run(["bash", "-c", f"cat {tmp_path / 'a.tar'} | {' '.join(pybuild_command(pybuild))} load"],
                            capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert result.stdout == f"Loaded image ID: {image_id}\n", result.stderr


def pybuild_command(pybuild: Pybuild) -> list[str]:
    import sys

    return [sys.executable, "-m", "builder.cli", "--root", str(pybuild.root)]


def legacy_archive(path: Path, layers: list[bytes], config: bytes, tag: str) -> None:
    """The pre-25 ``docker save`` form: ``<id>/layer.tar`` (here gzip-compressed) and ``<id>.json``."""
    with tarfile.open(path, "w") as archive:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))

        paths = []
        for index, data in enumerate(layers):
            paths.append(f"{index:064x}/layer.tar")
            add(paths[-1], gzip.compress(data))
        config_name = f"{Digest.of(config).hex}.json"
        add(config_name, config)
        add("manifest.json", json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": paths}]).encode())


def test_load_reads_legacy_archives_with_compressed_layers(pybuild: Pybuild, stored: tuple[str, str],
                                                           tmp_path: Path) -> None:
    image_id, _ = stored
    store = ImageStore(pybuild.root)
    image = store.image(NAME)
    layers = [store.content.read_bytes(d) for d in image.config.diff_ids]
    legacy_archive(tmp_path / "legacy.tar", layers, image.config_bytes, "legacy:1")
    assert ok(pybuild("load", "-i", str(tmp_path / "legacy.tar"))) == "Loaded image: legacy:1\n"
    assert str(ImageStore(pybuild.root).image("legacy:1").image_id) == image_id


def test_load_refuses_a_layer_that_does_not_match_its_diff_id(pybuild: Pybuild, stored: tuple[str, str],
                                                              tmp_path: Path) -> None:
    image = ImageStore(pybuild.root).image(NAME)
    wrong = [layer_tar([Entry("evil", data=b"x")]), layer_tar([Entry("evil2", data=b"y")])]
    legacy_archive(tmp_path / "bad.tar", wrong, image.config_bytes, "bad:1")
    assert_clean_failure(pybuild("load", "-i", str(tmp_path / "bad.tar")), 3, "diff_id")
    assert ImageStore(pybuild.root).resolve("bad:1") is None


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")
def test_load_reads_what_skopeo_writes(pybuild: Pybuild, stored: tuple[str, str], tmp_path: Path) -> None:
    image_id, _ = stored
    ok(pybuild("save", "--format", "oci", "-o", str(tmp_path / "oci.tar"), NAME))
    subprocess.run(["skopeo", "--insecure-policy", "copy", f"oci-archive:{tmp_path / 'oci.tar'}",
                    f"docker-archive:{tmp_path / 'skopeo.tar'}:skopeo/app:2"], check=True, capture_output=True)
    assert ok(pybuild("load", "-i", str(tmp_path / "skopeo.tar"))) == "Loaded image: skopeo/app:2\n"
    assert str(ImageStore(pybuild.root).image("skopeo/app:2").image_id) == image_id


def test_save_refuses_unknown_images(pybuild: Pybuild, stored: tuple[str, str], tmp_path: Path) -> None:
    assert_clean_failure(pybuild("save", "-o", str(tmp_path / "x.tar"), "nope:1"), 2, "No such image: nope:1")
    assert not (tmp_path / "x.tar").exists()


def test_image_prune_removes_dangling_images(pybuild: Pybuild, stored: tuple[str, str]) -> None:
    old_id, _ = stored
    store_image(pybuild.root, [layer_tar([Entry("new", data=b"new")])], NAME)  # NAME moves: the old one dangles
    output = ok(pybuild("image", "prune", "-f"))
    assert output.startswith(f"Deleted Images:\ndeleted: {old_id}\n\nTotal reclaimed space: ")
    assert ok(pybuild("image", "prune", "-f")) == "Total reclaimed space: 0B\n"
    assert ok(pybuild("image", "prune", stdin="n\n")) == ""
