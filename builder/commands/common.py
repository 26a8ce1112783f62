"""What the image and registry sub-commands share: registry flags, the store, error reporting."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from registry_client import Platform, RegistryClient

    from builder.console import Console
    from builder.imagestore import ImageStore


def add_registry_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--insecure-registry", dest="insecure_registries", action="append", default=[],
                        metavar="HOST", help="allow plain HTTP or unverified TLS to HOST[:PORT] or a CIDR (repeatable)")
    parser.add_argument("--registry-mirror", dest="registry_mirrors", action="append", default=[],
                        metavar="URL", help="try this docker.io mirror first (repeatable)")


def registry_client_for(options: argparse.Namespace) -> RegistryClient:
    """A client configured from the flags and the registry config file."""
    from builder.registry_settings import load_settings

    settings = load_settings(options.root, insecure=tuple(options.insecure_registries),
                             mirrors=tuple(options.registry_mirrors))
    return settings.client()


def open_store(options: argparse.Namespace) -> ImageStore:
    from builder.cache.index import protected_blobs
    from builder.imagestore import ImageStore

    return ImageStore(options.root, protect=protected_blobs(options.root))


def run_reporting(body: Callable[[Console], int], failure_code: int | None = None) -> int:
    """Run a command body; user mistakes and registry failures become one line and an exit code.

    ``failure_code`` replaces those codes when the body's own codes are someone else's (``pybuild run``
    returns the container's, so every failure of its own is docker run's 125)."""
    from builder.console import Console

    console = Console()
    try:
        return body(console)
    except PermissionError as exc:  # e.g. the default root /var/lib/pybuild without root rights
        console.error(f"{exc.strerror}: {exc.filename} (choose another state directory with --root)")
        return 2 if failure_code is None else failure_code
    except Exception as exc:
        from builder.report import report_error  # imports the grammar: only pay for it on failure

        code = report_error(exc, console)
        if code is None:
            raise  # not a user mistake: a bug, show the traceback
        return code if failure_code is None else failure_code


def parse_platform_flag(text: str | None) -> Platform | None:
    """``--platform os/arch[/variant]``; a malformed value is a usage error."""
    from registry_client import Platform, RegistryError

    from builder.errors import UsageError

    if not text:
        return None
    try:
        return Platform.parse(text)
    except RegistryError as exc:
        raise UsageError(str(exc)) from None
