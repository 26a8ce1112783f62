"""``--output`` parsing (buildx's rules) and the output flags of ``pybuild build``."""
from __future__ import annotations

import argparse

import pytest

from builder.errors import UsageError
from builder.image.compression import GZIP, ZSTD, Compression
from builder.outputs import OutputSpec, add_output_arguments, parse_output, parse_outputs


@pytest.mark.parametrize(("text", "kind", "dest"), [
    ("out", "local", "out"),
    ("./some/dir", "local", "./some/dir"),
    ("-", "tar", "-"),
    ("type=local,dest=out", "local", "out"),
    ("type=tar,dest=-", "tar", "-"),
    ("type=oci,dest=img.tar", "oci", "img.tar"),
    ("type=docker,dest=img.tar", "docker", "img.tar"),
    ("type=image", "image", None),
    ("TYPE=oci, Dest =x", "oci", "x"),  # keys are trimmed and lower-cased
])
def test_forms(text: str, kind: str, dest: str | None) -> None:
    spec = parse_output(text)
    assert (spec.type, spec.dest) == (kind, dest)


def test_registry_means_image_with_push() -> None:
    spec = parse_output("type=registry,name=127.0.0.1:5000/app")
    assert spec.type == "image" and spec.flag("push") and spec.names == ("127.0.0.1:5000/app",)
    assert not parse_output("type=registry,push=false").flag("push")


def test_quoted_names_and_attributes() -> None:
    spec = parse_output('type=image,"name=a:1,b:2",push=true,compression=zstd,compression-level=5,force-compression=true')
    assert spec.names == ("a:1", "b:2")
    assert spec.compression() == Compression(ZSTD, 5, True)
    assert parse_output("type=oci,dest=x").compression() == Compression(GZIP)
    assert parse_output("type=oci,dest=x").compression(ZSTD).codec == ZSTD
    assert parse_output("type=oci,dest=x,tar=false").as_directory


@pytest.mark.parametrize(("text", "message"), [
    ("dest=x,tar=false", "type is required"),  # a lone "dest=x" is a path, as in buildx
    ("type=oci,dest", "invalid value dest"),
    ("a,b", "invalid value a"),
    ("type=nope", "unsupported output type"),
    ("type=oci,compression=lz4", "unsupported compression"),
    ("type=image,push=maybe", "expected true or false"),
])
def test_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        spec = parse_output(text)
        spec.compression()
        spec.flag("push")


def parser() -> argparse.ArgumentParser:
    result = argparse.ArgumentParser()
    add_output_arguments(result)
    return result


def test_push_flag_turns_on_push_for_image_outputs_or_adds_one() -> None:
    options = parser().parse_args(["--push", "-o", "type=image,name=x", "-o", "out"])
    specs = parse_outputs(options)
    assert [(s.type, s.flag("push")) for s in specs] == [("image", True), ("local", False)]
    added = parse_outputs(parser().parse_args(["--push"]))
    assert added == [OutputSpec("image", None, added[0].attrs)] and added[0].flag("push")
    options = parser().parse_args(["--compression", "zstd", "--metadata-file", "m.json"])
    assert (options.compression, options.metadata_file, parse_outputs(options)) == ("zstd", "m.json", [])
