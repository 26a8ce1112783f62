"""``pybuild inspect NAME|ID``: manifest and config as JSON, from the local store or else the registry."""
from __future__ import annotations

import argparse
import json
import tempfile
from typing import TYPE_CHECKING, Any

from builder.commands.common import (
    add_registry_arguments, open_store, parse_platform_flag, registry_client_for, run_reporting,
)

if TYPE_CHECKING:
    from builder.console import Console
    from builder.imagestore import ImageStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", metavar="NAME|ID", help="image name, ID or digest")
    parser.add_argument("--platform", help="os/arch[/variant] to show for multi-platform images")
    parser.add_argument("--remote", action="store_true", help="ask the registry even if the image is local")
    add_registry_arguments(parser)


def run(options: argparse.Namespace) -> int:
    return run_reporting(lambda console: _inspect(options, console))


def _inspect(options: argparse.Namespace, console: Console) -> int:
    from builder.imagestore import ImageNotFound

    platform = parse_platform_flag(options.platform)
    store = open_store(options)
    entry = None if options.remote else store.resolve(options.ref)
    if entry is not None:
        console.result_json([_local_document(store, entry, platform)])
        return 0
    from registry_client import InvalidReference, parse_reference

    try:
        parse_reference(options.ref)
    except InvalidReference:
        raise ImageNotFound(options.ref) from None  # an ID prefix that matched nothing locally
    console.result_json([_remote_document(options, platform)])
    return 0


def _local_document(store: ImageStore, entry: Any, platform: Any) -> dict[str, Any]:
    from builder.imagestore import REPO_DIGEST

    image = store.image(entry, platform)
    siblings = [e for e in store.entries() if e.digest == entry.digest]
    repo_digests = (e.annotations.get(REPO_DIGEST) for e in siblings)
    return {
        "Id": str(image.image_id),
        "RepoTags": [n.familiar for n in store.names_of(entry.digest) if n.tag],
        "RepoDigests": list(dict.fromkeys(d for d in repo_digests if d)),
        "Source": "local",
        "Descriptor": image.descriptor.to_json(),
        "Manifest": json.loads(image.manifest_bytes),
        "Config": json.loads(image.config_bytes),
    }


def _remote_document(options: argparse.Namespace, platform: Any) -> dict[str, Any]:
    from registry_client import ContentStore, resolve

    client = registry_client_for(options)
    resolved = resolve(client, options.ref, platform)
    manifest = resolved.manifest
    config_descriptor = manifest.parsed.config  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory(prefix="pybuild-inspect-") as scratch:
        blobs = ContentStore(scratch)  # the config only: nothing lands in the local store
        client.fetch_blob(resolved.reference, config_descriptor, blobs)
        config = json.loads(blobs.read_bytes(config_descriptor.digest))
    document: dict[str, Any] = {
        "Id": str(config_descriptor.digest),
        "Name": str(resolved.reference),
        "Digest": str(resolved.top.descriptor.digest),
        "Source": "registry",
        "Descriptor": manifest.descriptor.to_json(),
        "Manifest": json.loads(manifest.data),
        "Config": config,
    }
    if resolved.top.descriptor.digest != manifest.descriptor.digest:
        document["Index"] = json.loads(resolved.top.data)
    return document
