"""pull, images, tag, inspect, push, rmi through the CLI against a real docker-registry."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from registry_commands_support import Pybuild, SeededRegistry, assert_clean_failure, seeded_registry

pytestmark = pytest.mark.skipif(shutil.which("docker-registry") is None, reason="docker-registry not installed")
AMD64 = "linux/amd64"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededRegistry]:
    with seeded_registry(tmp_path_factory.mktemp("noauth")) as seeded:
        yield seeded


@pytest.fixture(scope="module")
def pulled(tmp_path_factory: pytest.TempPathFactory, registry: SeededRegistry) -> Pybuild:
    """A root into which library/hello:latest (amd64) has been pulled once."""
    base = tmp_path_factory.mktemp("pulled")
    pybuild = Pybuild(base / "root", base / "docker")
    result = pybuild("pull", "--platform", AMD64, registry.ref("library/hello"))
    assert result.returncode == 0, result.stderr
    return pybuild


@pytest.fixture()
def pybuild(tmp_path: Path) -> Pybuild:
    return Pybuild(tmp_path / "root", tmp_path / "docker")


def image_id(registry: SeededRegistry, pybuild: Pybuild, ref: str) -> str:
    result = pybuild("inspect", ref)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[0]["Id"]


def test_pull_reports_layers_and_tags_the_image(registry: SeededRegistry, pybuild: Pybuild) -> None:
    ref = registry.ref("library/hello")
    first = pybuild("pull", "--platform", AMD64, ref)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"{ref}:latest"
    assert first.stderr.startswith("Using default tag: latest\nlatest: Pulling from library/hello\n")
    assert first.stderr.count("Pull complete") == 3  # layers only, not the config
    assert f"Digest: {registry.image.top.digest}" in first.stderr
    assert "Status: Downloaded newer image" in first.stderr
    again = pybuild("pull", "--platform", AMD64, f"{ref}:latest")
    # as docker: an image already here gets no layer lines, and a tag given means no "default tag" line
    assert again.stderr.splitlines() == [
        "latest: Pulling from library/hello", f"Digest: {registry.image.top.digest}",
        f"Status: Image is up to date for {ref}:latest"]


def test_the_root_is_an_oci_layout_skopeo_can_read(registry: SeededRegistry, pulled: Pybuild) -> None:
    index = json.loads((pulled.root / "index.json").read_text())
    names = [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]]
    assert f"{registry.ref('library/hello')}:latest" in names
    assert json.loads((pulled.root / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    if shutil.which("skopeo"):
        info = subprocess.run(["skopeo", "inspect", f"oci:{pulled.root}:{registry.ref('library/hello')}:latest"],
                              capture_output=True, text=True, check=True).stdout
        assert json.loads(info)["Architecture"] == "amd64"


def test_images_lists_like_docker(registry: SeededRegistry, pulled: Pybuild) -> None:
    result = pulled("images")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    identifier = image_id(registry, pulled, registry.ref("library/hello"))
    row = next(r.split() for r in rows if r.startswith(registry.ref("library/hello ")))
    assert row[:3] == [registry.ref("library/hello"), "latest", identifier.split(":")[1][:12]]
    assert row[-1].endswith("kB") and "ago" in row
    assert pulled("images", "-q").stdout.split() == [identifier.split(":")[1][:12]]


def test_tag_and_inspect_by_name_and_short_id(registry: SeededRegistry, pybuild: Pybuild) -> None:
    source, copy = registry.ref("library/hello"), registry.ref("library/copy:v1")
    assert pybuild("pull", "-q", "--platform", AMD64, source).returncode == 0
    assert pybuild("tag", source, copy).returncode == 0
    identifier = image_id(registry, pybuild, copy)
    document = json.loads(pybuild("inspect", identifier.split(":")[1][:8]).stdout)[0]
    assert document["Id"] == identifier and document["Source"] == "local"
    assert sorted(document["RepoTags"]) == sorted([f"{source}:latest", copy])
    assert document["Config"]["architecture"] == "amd64"
    assert document["Manifest"]["config"]["digest"] == identifier
    assert document["RepoDigests"] == [f"{source}@{registry.image.top.digest}"]


def test_inspect_asks_the_registry_for_images_that_are_not_local(registry: SeededRegistry, pybuild: Pybuild) -> None:
    result = pybuild("inspect", "--platform", "linux/arm64", registry.ref("library/hello"))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)[0]
    assert document["Source"] == "registry" and document["Config"]["architecture"] == "arm64"
    assert document["Digest"] == str(registry.image.top.digest) and "manifests" in document["Index"]
    assert not (pybuild.root / "index.json").exists() or "hello" not in (pybuild.root / "index.json").read_text()


def test_push_to_another_repository_then_pull_it_back(registry: SeededRegistry, pybuild: Pybuild,
                                                      tmp_path: Path) -> None:
    source, target = registry.ref("library/hello"), registry.ref("pushed/hello:v2")
    assert pybuild("pull", "-q", "--platform", "linux/arm64", source).returncode == 0
    assert pybuild("tag", source, target).returncode == 0
    pushed = pybuild("push", target)
    assert pushed.returncode == 0, pushed.stderr
    assert f"The push refers to repository [{registry.ref('pushed/hello')}]" in pushed.stderr
    assert "v2: digest: sha256:" in pushed.stderr
    elsewhere = Pybuild(tmp_path / "other-root", tmp_path / "docker")
    back = elsewhere("pull", target)  # no --platform: what was pushed is a single arm64 image
    assert back.returncode == 0, back.stderr
    assert image_id(registry, elsewhere, target) == image_id(registry, pybuild, target)


def test_rmi_untags_then_deletes_and_frees_the_blobs(registry: SeededRegistry, pybuild: Pybuild) -> None:
    source, copy = registry.ref("library/hello"), registry.ref("library/copy:rm")
    assert pybuild("pull", "-q", "--platform", AMD64, source).returncode == 0
    assert pybuild("tag", source, copy).returncode == 0
    identifier = image_id(registry, pybuild, copy)
    short = identifier.split(":")[1][:12]
    assert_clean_failure(pybuild("rmi", short), 2, "must be forced")
    first = pybuild("rmi", copy)
    assert first.returncode == 0 and first.stdout.splitlines() == [f"Untagged: {copy}"]
    second = pybuild("rmi", source)
    assert second.stdout.splitlines() == [f"Untagged: {source}:latest", f"Deleted: {identifier}"]
    assert list((pybuild.root / "blobs" / "sha256").iterdir()) == []
    assert pybuild("images", "-q").stdout == ""


def test_bad_reference_is_a_usage_error(pybuild: Pybuild) -> None:
    assert_clean_failure(pybuild("pull", "Upper/Case"), 2, "must be lowercase")
    assert_clean_failure(pybuild("tag", "nothing-here", "x"), 2, "No such image: nothing-here")
    assert_clean_failure(pybuild("pull", "--platform", "linux", "busybox"), 2, "invalid platform")


def test_missing_image_and_platform_are_registry_errors(registry: SeededRegistry, pybuild: Pybuild) -> None:
    assert_clean_failure(pybuild("pull", registry.ref("library/absent:1")), 3, "library/absent:1", "manifest unknown")
    assert_clean_failure(pybuild("pull", "--platform", "linux/s390x", registry.ref("library/hello")), 3,
                         "no manifest for platform linux/s390x")
    assert_clean_failure(pybuild("rmi", "absent"), 2, "No such image: absent")


def test_unreachable_registry_is_a_registry_error(pybuild: Pybuild) -> None:
    assert_clean_failure(pybuild("pull", "127.0.0.1:9/nothing"), 3, "cannot reach registry 127.0.0.1:9")
