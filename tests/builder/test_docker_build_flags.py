"""The ``docker build`` flags CI scripts pass, taken as docker 26 (buildx 0.13, "docker" driver) takes them.

The expectations were measured against docker 26.1 with buildx 0.13 (the compare daemon): which
flags it accepts, refuses or warns about, and that a RUN re-runs when ``--shm-size`` or ``--ulimit``
is given but stays CACHED when only ``--cgroup-parent`` changes.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from builder.cli import add_global_options, main
from builder.commands import build as build_command
from builder.commands.buildflags import (
    ULIMIT_NAMES,
    check_docker_flags,
    parse_attestations,
    ram_bytes,
    run_resources,
    ulimit,
)
from builder.errors import UsageError
from builder.outputs import parse_outputs
from builder.outputs.annotations import Annotation, parse_annotation
from runtime.resources import ULIMIT_RESOURCES, ContainerResources, Ulimit, shm_mount
from tests.support.images import flatten

ROOT = Path(__file__).resolve().parents[2]


def parse(*args: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pybuild build", exit_on_error=False)
    add_global_options(parser)
    build_command.add_arguments(parser)
    return parser.parse_args([*args, "."])


def pybuild(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "builder.cli", "--root", str(root), "build", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


# -- parsing (no privileges) -------------------------------------------------------------------------------

def test_every_flag_docker_26_accepts_parses_and_leaves_the_context_alone() -> None:
    options = parse("--load", "--provenance=false", "--sbom=false", "--attest", "type=provenance,disabled=true",
                    "--annotation", "index:org.opencontainers.image.version=1", "--shm-size", "128m",
                    "--ulimit", "nofile=1024:2048", "--ulimit", "nproc=50", "--cgroup-parent", "ci",
                    "--builder", "default", "--rm", "--force-rm=false", "--compress", "-m", "1g", "--memory-swap",
                    "2g", "-c", "512", "--cpu-period", "1000", "--cpu-quota", "100", "--cpuset-cpus", "0",
                    "--cpuset-mems", "0", "--isolation", "default", "--squash", "--security-opt", "seccomp=x")
    assert options.context == "."
    assert options.load and options.rm is True and options.force_rm is False and options.cpu_shares == 512
    assert run_resources(options) == ContainerResources(
        shm_size=128 << 20, ulimits=(Ulimit("nofile", 1024, 2048), Ulimit("nproc", 50, 50)), cgroup_parent="ci")
    assert check_docker_flags(options) == [
        "isolation flag is deprecated with BuildKit.",
        "experimental flag squash is removed with BuildKit. You should squash inside build using a multi-stage "
        "Dockerfile for efficiency.",
        'security-opt flag is deprecated. "RUN --security=insecure" should be used with BuildKit.']


def test_a_boolean_legacy_flag_never_swallows_the_context() -> None:
    assert parse("--rm").context == "." and parse("--compress", "--squash=0").squash is False
    with pytest.raises(argparse.ArgumentError, match="ignored explicit argument 'maybe'"):
        parse("--rm=maybe")


def test_sizes_and_ulimits_are_read_like_dockers_flags() -> None:
    assert [ram_bytes(text) for text in ("1000", "64m", "64M", "1.5g", "2GiB", "10kb")] == [
        1000, 64 << 20, 64 << 20, 3 << 29, 2 << 30, 10 << 10]
    assert ulimit("nofile=1024:2048") == ("nofile", 1024, 2048)
    assert ulimit("core=-1") == ("core", -1, -1)
    assert set(ULIMIT_NAMES) == set(ULIMIT_RESOURCES)  # the CLI's names are the ones the runtime can set
    for bad, message in (("nofile", "invalid ulimit argument"), ("bogus=1", "invalid ulimit type: bogus"),
                         ("nofile=a", "invalid integer"), ("nofile=30:20", "must be less than or equal"),
                         ("nofile=1:2:3", "too many limit value arguments")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            ulimit(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="invalid size: 'bogus'"):
        ram_bytes("bogus")
    # the last --ulimit of a name wins; --shm-size=0 is the default size, as in docker
    options = parse("--ulimit", "nofile=1:2", "--ulimit", "nofile=3:4", "--shm-size", "0")
    assert run_resources(options) == ContainerResources(ulimits=(Ulimit("nofile", 3, 4),))


def test_shm_mount_is_runcs_by_default_and_buildkits_tmpfs_once_sized() -> None:
    assert shm_mount(None) == ("shm", "mode=1777,size=65536k")
    assert shm_mount(128 << 20) == ("tmpfs", f"mode=1777,size={128 << 20}")


@pytest.mark.parametrize("args", [(), ("--provenance=false",), ("--provenance=0",), ("--sbom=False",),
                                  ("--provenance=",), ("--attest", "type=sbom,disabled=true")])
def test_disabled_attestations_are_accepted_silently(args: tuple[str, ...]) -> None:
    assert check_docker_flags(parse(*args)) == []


@pytest.mark.parametrize("args", [("--provenance=true",), ("--provenance=mode=max",), ("--sbom=true",),
                                  ("--attest", "type=sbom"), ("--attest", "type=provenance,mode=max")])
def test_attestations_are_refused_as_dockers_default_driver_refuses_them(args: tuple[str, ...]) -> None:
    with pytest.raises(UsageError, match="attestations are not supported"):
        check_docker_flags(parse(*args))


def test_malformed_attestations_get_buildxs_messages() -> None:
    with pytest.raises(UsageError, match="attestation type not specified"):
        parse_attestations(parse("--attest", "mode=max"))
    with pytest.raises(UsageError, match="invalid value bogus"):
        parse_attestations(parse("--provenance=bogus"))
    with pytest.raises(UsageError, match="invalid value disabled=maybe"):
        parse_attestations(parse("--attest", "type=sbom,disabled=maybe"))
    assert [a.kind for a in parse_attestations(parse("--provenance=mode=max"))] == ["provenance"]


def test_only_the_default_builder_exists() -> None:
    assert check_docker_flags(parse("--builder", "default")) == []
    with pytest.raises(UsageError, match='no builder "ci" found'):
        check_docker_flags(parse("--builder", "ci"))


def test_annotations_are_checked_as_buildx_checks_them() -> None:
    assert parse_annotation("a=b") == Annotation((), None, "a", "b")
    assert parse_annotation("index,manifest:a=b=c") == Annotation(("index", "manifest"), None, "a", "b=c")
    assert parse_annotation("manifest[linux/amd64]:a=") == Annotation(("manifest",), "linux/amd64", "a", "")
    assert parse_annotation(":a=b") == Annotation((), None, "a", "b")
    for bad, message in (("a", "invalid annotation 'a', expected key=value"),
                         ("=b", "invalid annotation format"), ("foo:a=b", "unknown annotation type 'foo'"),
                         ("a:b:c=d", "unknown annotation type 'a'"), ("manifest[bogus]:a=b", "invalid platform")):
        with pytest.raises(UsageError, match=message):
            parse_annotation(bad)


def test_cgroup_parent_must_be_a_plain_path() -> None:
    for bad in ("../escape", "a/../../b", "/"):
        with pytest.raises(UsageError, match="invalid --cgroup-parent"):
            check_docker_flags(parse("--cgroup-parent", bad))


def test_load_adds_buildxs_docker_output_next_to_push_and_o() -> None:
    assert [(s.type, s.dest) for s in parse_outputs(parse("--load"))] == [("docker", None)]
    pushed = parse_outputs(parse("--load", "--push"))
    assert [(s.type, s.flag("push")) for s in pushed] == [("docker", False), ("image", True)]
    assert [(s.type, s.dest) for s in parse_outputs(parse("--load", "-o", "type=local,dest=out"))] == [
        ("docker", None), ("local", "out")]
    assert len(parse_outputs(parse("--load", "-o", "type=docker"))) == 1


def test_bad_values_are_clear_errors_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    for args, message in ((("--shm-size", "lots"), "argument --shm-size: invalid size: 'lots'"),
                          (("--ulimit", "nofile=9:1"), "ulimit soft limit must be less than or equal"),
                          (("--provenance=true",), "attestations are not supported"),
                          (("--builder", "mybuilder"), 'no builder "mybuilder" found'),
                          (("--annotation", "nokey"), "invalid annotation 'nokey'")):
        done = pybuild(tmp_path / "root", *args, str(tmp_path))
        assert done.returncode != 0, args
        assert message in done.stderr and "Traceback" not in done.stderr, done.stderr


# -- real builds ---------------------------------------------------------------------------------------------

def probe(marker: str) -> str:
    """A RUN that records what its container got; ``marker`` keeps each test's step its own in the shared root."""
    return ("FROM busybox:local\n"
            f"RUN echo {marker} && df -k /dev/shm | tail -n 1 > /shm.txt && ulimit -n > /nofile.txt"
            " && ulimit -Hn >> /nofile.txt && cat /proc/self/cgroup > /cgroup.txt\n")


def cli_build(root: Path, context: Path, *args: str) -> None:
    assert main(["--root", str(root), "build", "--progress", "plain", *args, str(context)]) == 0


@pytest.mark.privileged
def test_run_gets_the_shm_size_and_ulimits_and_they_key_the_step(built_root: Path, tmp_path: Path,
                                                                  capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Dockerfile").write_text(probe("shm-and-ulimits"))
    cli_build(built_root, tmp_path, "--shm-size", "96m", "--ulimit", "nofile=100:200", "-t", "flags:sized",
              "--load", "--provenance=false", "--rm")
    tree = flatten(built_root, "flags:sized", tmp_path / "sized")
    assert (tree / "shm.txt").read_text().split()[:2] == ["tmpfs", str(96 * 1024)]
    assert (tree / "nofile.txt").read_text().split() == ["100", "200"]
    capfd.readouterr()
    cli_build(built_root, tmp_path, "--shm-size", "96m", "--ulimit", "nofile=100:200")
    assert "CACHED" in capfd.readouterr().err  # the same flags: the same key
    cli_build(built_root, tmp_path, "-t", "flags:default")  # none: the RUN runs again, as under docker 26
    assert "cache miss: instruction changed (shm_size, ulimits)" in capfd.readouterr().err
    tree = flatten(built_root, "flags:default", tmp_path / "default")
    assert (tree / "shm.txt").read_text().split()[:2] == ["shm", str(64 * 1024)]
    assert (tree / "nofile.txt").read_text().split() != ["100", "200"]


@pytest.mark.privileged
def test_run_goes_under_the_cgroup_parent_which_does_not_key_the_step(built_root: Path, tmp_path: Path,
                                                                      capfd: pytest.CaptureFixture[str]) -> None:
    parent = "pybuild-test-parent"  # fixed: every parent name used stays listed in /run/pybuild/cgroup-parents
    (tmp_path / "Dockerfile").write_text(probe("cgroup-parent"))
    try:
        cli_build(built_root, tmp_path, "--cgroup-parent", parent, "-t", "flags:cgroup")
        lines = (flatten(built_root, "flags:cgroup", tmp_path / "tree") / "cgroup.txt").read_text().splitlines()
        placed = [line for line in lines if f":/{parent}/pybuild-" in line]  # from the root, as docker places it
        assert any(":memory:" in line or line.startswith("0::") for line in placed), lines
        capfd.readouterr()
        cli_build(built_root, tmp_path, "--cgroup-parent", parent + "-other")
        assert "CACHED" in capfd.readouterr().err
    finally:
        _remove_parents((parent, parent + "-other"))


@pytest.mark.privileged
def test_a_ulimit_the_kernel_refuses_fails_the_run_as_docker_26s(built_root: Path, tmp_path: Path,
                                                                 capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\nRUN echo refused-ulimit\n")
    capfd.readouterr()
    code = main(["--root", str(built_root), "build", "--progress", "plain", "--ulimit", "nofile=-1", str(tmp_path)])
    err = capfd.readouterr().err
    # docker 26 on this host: runc's complaint in the step's output, then the step fails with exit code 1
    assert code == 1 and "Traceback" not in err
    assert ("runc run failed: unable to start container process: error during container init: error setting "
            "rlimits for ready process: error setting rlimit type 7: operation not permitted") in err
    assert 'process "/bin/sh -c echo refused-ulimit" did not complete successfully: exit code: 1' in err


def _remove_parents(names: tuple[str, ...]) -> None:
    """The parents stay after a build, as docker leaves them; the test removes its own."""
    for top in ("/sys/fs/cgroup",):
        for directory, subdirs, _files in os.walk(top):
            for name in subdirs:
                if name in names:
                    for leftover, _, _ in sorted(os.walk(os.path.join(directory, name)), reverse=True):
                        os.rmdir(leftover)


# -- annotations ---------------------------------------------------------------------------------------------

def test_annotations_become_buildxs_output_attributes_and_land_where_their_type_says() -> None:
    from registry_client import Platform

    from builder.outputs.annotations import image_annotations

    specs = parse_outputs(parse("--annotation", "a=1", "--annotation", "manifest[linux/arm64]:b=2",
                                "--annotation", "manifest-descriptor,manifest:c=3", "-o", "type=oci,dest=x"))
    assert dict(specs[0].attrs) == {"annotation.a": "1", "annotation-manifest[linux/arm64].b": "2",
                                    "annotation-manifest-descriptor.c": "3", "annotation-manifest.c": "3"}
    on_amd64 = image_annotations(specs[0].attrs, Platform("linux", "amd64"))
    assert (dict(on_amd64.manifest), dict(on_amd64.manifest_descriptor)) == ({"a": "1", "c": "3"}, {"c": "3"})
    assert dict(image_annotations(specs[0].attrs, Platform("linux", "arm64", "v8")).manifest) == {
        "a": "1", "b": "2", "c": "3"}


def test_index_annotations_are_refused_for_a_file_output_before_the_build_but_not_for_the_store() -> None:
    assert parse_outputs(parse("--annotation", "index:a=b", "--load", "--push"))  # dropped, as docker 26 does
    for output in ("type=oci,dest=out.tar", "type=docker,dest=out.tar"):
        with pytest.raises(UsageError, match="index annotations not supported for single platform export"):
            parse_outputs(parse("--annotation", "index-descriptor:a=b", "-o", output))


@pytest.mark.privileged
def test_an_oci_output_carries_the_annotations_and_the_store_keeps_its_manifest(built_root: Path,
                                                                                tmp_path: Path) -> None:
    import json

    from builder.imagestore import ImageStore

    (tmp_path / "Dockerfile").write_text("FROM busybox:local\nRUN echo annotated > /a.txt\n")
    cli_build(built_root, tmp_path, "-t", "flags:plain")
    layout = tmp_path / "layout"
    cli_build(built_root, tmp_path, "-t", "flags:annotated", "--annotation", "org.opencontainers.image.title=T",
              "--annotation", "manifest-descriptor:org.example.entry=E", "--load",
              "-o", f"type=oci,dest={layout},tar=false,annotation-manifest.org.example.extra=X")
    store = ImageStore(built_root)
    stored = store.resolve("flags:annotated")
    assert stored is not None and stored.digest == store.resolve("flags:plain").digest  # type: ignore[union-attr]
    entry = json.loads((layout / "index.json").read_text())["manifests"][0]
    assert entry["annotations"]["org.example.entry"] == "E" and "org.opencontainers.image.title" not in entry[
        "annotations"]
    manifest = json.loads((layout / "blobs/sha256" / entry["digest"].split(":")[1]).read_bytes())
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["annotations"] == {"org.opencontainers.image.title": "T", "org.example.extra": "X"}
    assert manifest["config"]["digest"] == str(store.image("flags:plain").image_id)


def test_a_push_drops_the_annotations_as_docker_26_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # docker 26 (default driver) pushed a schema2 manifest without any of --annotation a=b, index:c=d,
    # manifest-descriptor:e=f; pybuild's push sends the stored image's manifest, annotated by nothing.
    from outputs_images import store_image, tricky_layers
    from registry_commands_support import make_client
    from registry_client import ContentStore, pull
    from registry_servers import RegistryProcess

    from builder.image.export import ExportedImage
    from builder.imagestore import ImageStore
    from builder.outputs import apply_outputs

    (tmp_path / "registry").mkdir()
    process = RegistryProcess(tmp_path / "registry")
    try:
        root, ref = tmp_path / "root", f"{process.host}/flags/annotated:1"
        descriptor = store_image(root, tricky_layers(), None)
        image = ImageStore(root).image(descriptor)
        monkeypatch.setattr("builder.registry_settings.RegistrySettings.client", lambda self: make_client())
        options = parse("--push", "--load", "--annotation", "a=b", "--annotation", "index:c=d",
                        "--annotation", "manifest-descriptor:e=f")
        metadata = apply_outputs(options, root, ExportedImage(descriptor, image.config, str(image.image_id), (ref,)))
        pulled = pull(ref, ContentStore(tmp_path / "pulled"), client=make_client())
        assert dict(pulled.manifest.annotations) == {}
        assert pulled.manifest.config.digest == image.image_id
        assert metadata["containerimage.config.digest"] == str(image.image_id)
        assert metadata["containerimage.digest"] == str(pulled.digest)  # what was pushed, not the store's
    finally:
        process.stop()
