"""``--output`` exporters on images stored as a build stores them: OCI, docker archive, local, tar."""
from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from outputs_images import store_image, tricky_layers
from registry_client import Digest, MediaType

from builder.errors import UsageError
from builder.image.export import ExportedImage
from builder.imagestore import ImageStore
from builder.outputs import apply_outputs, export_output, parse_output

ROOT = Path(__file__).resolve().parents[2]
needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")


@pytest.fixture()
def built(tmp_path: Path) -> tuple[Path, ExportedImage]:
    root = tmp_path / "root"
    descriptor = store_image(root, tricky_layers(), "example.com/app:1")
    image = ImageStore(root).image(descriptor)
    return root, ExportedImage(descriptor, image.config, str(image.image_id), ("example.com/app:1",))


def export(root: Path, image: ExportedImage, text: str):  # noqa: ANN201
    return export_output(root, image.manifest, parse_output(text), image.tags)


def skopeo(*args: str) -> str:
    result = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@needs_skopeo
def test_oci_archive_is_gzip_compressed_and_byte_identical(built, tmp_path: Path) -> None:  # noqa: ANN001
    root, image = built
    first = export(root, image, f"type=oci,dest={tmp_path / 'a.tar'}")
    export(root, image, f"type=oci,dest={tmp_path / 'b.tar'}")
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    raw = json.loads(skopeo("inspect", "--raw", f"oci-archive:{tmp_path / 'a.tar'}"))
    assert [layer["mediaType"] for layer in raw["layers"]] == [MediaType.OCI_LAYER_GZIP] * 2
    assert raw["config"]["digest"] == image.image_id and str(first.descriptor.digest) != str(image.manifest.digest)
    with tarfile.open(tmp_path / "a.tar") as archive:
        index = json.load(archive.extractfile("index.json"))  # type: ignore[arg-type]
        layer = archive.extractfile(f"blobs/sha256/{Digest.parse(raw['layers'][0]['digest']).hex}")
        assert Digest.of(gzip.decompress(layer.read())) == image.config.diff_ids[0]  # type: ignore[union-attr]
    assert index["manifests"][0]["annotations"] == {"io.containerd.image.name": "example.com/app:1",
                                                    "org.opencontainers.image.ref.name": "1"}
    skopeo("copy", f"oci-archive:{tmp_path / 'a.tar'}", f"oci:{tmp_path / 'copy'}:app")


@needs_skopeo
def test_oci_directory_and_zstd(built, tmp_path: Path) -> None:  # noqa: ANN001
    root, image = built
    export(root, image, f"type=oci,dest={tmp_path / 'layout'},tar=false,compression=zstd")
    raw = json.loads(skopeo("inspect", "--raw", f"oci:{tmp_path / 'layout'}"))
    assert {layer["mediaType"] for layer in raw["layers"]} == {MediaType.OCI_LAYER_ZSTD}
    skopeo("copy", f"oci:{tmp_path / 'layout'}", f"oci:{tmp_path / 'copy'}:app")
    export(root, image, f"type=oci,dest={tmp_path / 'layout'},tar=false,name=other:2")  # merged, not replaced
    names = [m["annotations"]["io.containerd.image.name"]
             for m in json.loads((tmp_path / "layout" / "index.json").read_text())["manifests"]]
    assert names == ["example.com/app:1", "docker.io/library/other:2"]
    (tmp_path / "existing").mkdir()
    export(root, image, f"type=oci,dest={tmp_path / 'existing'}")  # an existing directory: a layout in it
    skopeo("inspect", f"oci:{tmp_path / 'existing'}")


@needs_skopeo
def test_docker_archive_is_what_docker_save_writes(built, tmp_path: Path) -> None:  # noqa: ANN001
    root, image = built
    export(root, image, f"type=docker,dest={tmp_path / 'd.tar'}")
    export(root, image, f"type=docker,dest={tmp_path / 'e.tar'}")
    assert (tmp_path / "d.tar").read_bytes() == (tmp_path / "e.tar").read_bytes()
    with tarfile.open(tmp_path / "d.tar") as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        repositories = json.load(archive.extractfile("repositories"))  # type: ignore[arg-type]
    diff_ids = [f"blobs/sha256/{d.hex}" for d in image.config.diff_ids]
    assert manifest == [{"Config": f"blobs/sha256/{Digest.parse(image.image_id).hex}",
                         "RepoTags": ["example.com/app:1"], "Layers": diff_ids}]
    assert repositories == {"example.com/app": {"1": image.config.diff_ids[-1].hex}}
    inspected = json.loads(skopeo("inspect", f"docker-archive:{tmp_path / 'd.tar'}"))
    assert inspected["Layers"] == [str(d) for d in image.config.diff_ids]
    skopeo("copy", f"docker-archive:{tmp_path / 'd.tar'}", f"oci:{tmp_path / 'copy'}:app")
    copied = json.loads(skopeo("inspect", "--config", "--raw", f"oci:{tmp_path / 'copy'}:app"))
    assert copied["rootfs"]["diff_ids"] == [str(d) for d in image.config.diff_ids]


def test_docker_archive_of_a_pulled_image_has_plain_layers(tmp_path: Path) -> None:
    root = tmp_path / "root"
    descriptor = store_image(root, tricky_layers(), "pulled:1", gzip_layers=True)
    export_output(root, descriptor, parse_output(f"type=docker,dest={tmp_path / 'd.tar'}"), ["pulled:1"])
    with tarfile.open(tmp_path / "d.tar") as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        for path in manifest[0]["Layers"]:
            data = archive.extractfile(path).read()  # type: ignore[union-attr]
            assert Digest.of(data).hex == path.rsplit("/", 1)[1]  # plain tar, named by diff_id


def check_tree(target: Path) -> None:
    app = target / "app"
    assert stat.S_IMODE(app.stat().st_mode) == 0o750 and (app.stat().st_uid, app.stat().st_gid) == (1000, 1000)
    run = app / "run.sh"
    assert stat.S_IMODE(run.stat().st_mode) == 0o4755
    data = app / "data.bin"
    assert (data.stat().st_uid, data.stat().st_gid, stat.S_IMODE(data.stat().st_mode)) == (123, 456, 0o600)
    assert os.readlink(app / "link") == "run.sh"
    assert (app / "hard").stat().st_ino == data.stat().st_ino
    assert (app / "added.txt").read_bytes() == b"second layer\n"
    assert not (target / "gone.txt").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="owners need root")
def test_local_output_reproduces_the_file_tree(built, tmp_path: Path) -> None:  # noqa: ANN001
    root, image = built
    export(root, image, str(tmp_path / "rootfs"))
    check_tree(tmp_path / "rootfs")
    with pytest.raises(UsageError, match="overlaps the state directory"):
        export(root, image, f"type=local,dest={root / 'x'}")


@pytest.mark.skipif(os.geteuid() != 0, reason="owners need root")
def test_tar_output_reproduces_the_file_tree_deterministically(built, tmp_path: Path) -> None:  # noqa: ANN001
    root, image = built
    export(root, image, f"type=tar,dest={tmp_path / 'a.tar'}")
    export(root, image, f"type=tar,dest={tmp_path / 'b.tar'}")
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    with tarfile.open(tmp_path / "a.tar") as archive:
        members = {m.name: m for m in archive.getmembers()}
        assert members["app/hard"].islnk() and members["app/hard"].linkname == "app/data.bin"
        assert (members["app/data.bin"].uid, members["app/data.bin"].uname) == (123, "")
        assert list(members)[:2] == ["app", "app/added.txt"]
        archive.extractall(tmp_path / "unpacked", numeric_owner=True)
    check_tree(tmp_path / "unpacked")
    assert not list((root / "tmp").iterdir())  # the scratch tree is gone


def test_dash_writes_the_rootfs_tar_to_stdout(built, tmp_path: Path) -> None:  # noqa: ANN001
    root, image = built
    code = (f"from pathlib import Path; from builder.outputs import export_output, parse_output; "
            f"from registry_client import Descriptor; import json; "
            f"d = Descriptor.from_json(json.loads({json.dumps(json.dumps(image.manifest.to_json()))})); "
            f"export_output(Path({str(root)!r}), d, parse_output('-'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    with tarfile.open(fileobj=io.BytesIO(result.stdout)) as archive:
        assert "app/run.sh" in archive.getnames()


def test_apply_outputs_writes_buildx_metadata(built, tmp_path: Path) -> None:  # noqa: ANN001
    root, image = built
    options = argparse.Namespace(outputs=[f"type=oci,dest={tmp_path / 'o.tar'}", "type=image,name=extra:tag"],
                                 push=False, compression="gzip", metadata_file=str(tmp_path / "meta.json"))
    metadata = apply_outputs(options, root, image)
    assert json.loads((tmp_path / "meta.json").read_text()) == metadata
    assert metadata["containerimage.config.digest"] == image.image_id
    assert metadata["containerimage.digest"] == str(image.manifest.digest)  # the last output: the store's
    assert metadata["image.name"] == "docker.io/library/extra:tag"
    assert ImageStore(root).resolve("extra:tag") is not None
    assert (tmp_path / "o.tar").is_file()


def test_push_without_a_name_is_a_usage_error(built) -> None:  # noqa: ANN001
    root, image = built
    with pytest.raises(UsageError, match="tag is needed"):
        export_output(root, image.manifest, parse_output("type=image,push=true"), ())
