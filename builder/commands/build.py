"""``pybuild [build] [OPTIONS] CONTEXT``: build an image, or only check the Dockerfile."""
from __future__ import annotations

import argparse
from pathlib import Path

EXIT_OK, EXIT_USAGE = 0, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("context", help="build context: a directory, '-' (a tar on stdin), a git URL, or an http(s) URL of a tar or a Dockerfile")
    parser.add_argument("-f", "--file", dest="file", help="Dockerfile path ('-' reads stdin; default CONTEXT/Dockerfile)")
    parser.add_argument("-t", "--tag", dest="tags", action="append", default=[], help="name:tag for the image (repeatable)")
    parser.add_argument("--build-arg", dest="build_args", action="append", default=[], metavar="K[=V]",
                        help="set a build-time variable; a bare K takes the value from the environment")
    parser.add_argument("--build-context", dest="build_contexts", action="append", default=[],
                        metavar="NAME=DIR|docker-image://REF|oci-layout://PATH[:TAG|@DIGEST]|GIT-URL|HTTP-URL",
                        help="replace the stage or image NAME with this source (repeatable)")
    parser.add_argument("--target", help="build this stage (default: the last one)")
    parser.add_argument("--platform", help="target platform, e.g. linux/amd64")
    parser.add_argument("--check", action="store_true", help="parse, expand and validate the Dockerfile, then stop")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="with --check: 'json' prints the expanded plan")
    parser.add_argument("--no-cache", action="store_true", help="do not use the build cache")
    parser.add_argument("--no-cache-filter", action="append", default=[], metavar="STAGE",
                        help="do not use the cache for this stage (repeatable)")
    parser.add_argument("--explain", action="store_true",
                        help="say why each step missed the cache, as a summary at the end (even with -q)")
    parser.add_argument("--pull", action="store_true", help="always check the registry for newer base images")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the image ID")
    parser.add_argument("--progress", choices=("auto", "tty", "plain", "quiet", "rawjson"),
                        default="auto",
                        help="how to show progress")
    parser.add_argument("--secret", action="append", default=[], metavar="id=ID,src=FILE|env=VAR",
                        help="expose a secret to RUN --mount=type=secret (repeatable)")
    parser.add_argument("--ssh", action="append", default=[], metavar="default|ID[=SOCKET|KEY[,KEY]]",
                        help="forward an SSH agent socket, or private keys, to RUN --mount=type=ssh")
    parser.add_argument("--network", default="default", choices=("default", "none", "host"),
                        help="network mode for RUN instructions")
    parser.add_argument("--add-host", dest="add_hosts", action="append", default=[], metavar="HOST:IP",
                        help="add a HOST:IP (or HOST=IP, IP may be host-gateway) line to RUN's /etc/hosts (repeatable)")
    parser.add_argument("--max-parallel", type=int, default=None, metavar="N",
                        help="build at most N independent stages at once "
                             "(default: $PYBUILD_MAX_PARALLEL, else min(4, CPUs))")
    parser.add_argument("--label", action="append", default=[], metavar="K=V", help="add a label to the image")
    parser.add_argument("--iidfile", help="write the image ID to this file")
    parser.add_argument("--allow", action="append", default=[], metavar="ENTITLEMENT",
                        help="allow network.host or security.insecure (repeatable or comma-separated)")
    from builder.cachetransfer import add_cache_arguments
    from builder.commands.buildflags import add_docker_arguments
    from builder.outputs import add_output_arguments

    add_output_arguments(parser)
    add_cache_arguments(parser)
    add_docker_arguments(parser)


def run(options: argparse.Namespace) -> int:
    from builder.console import Console

    console = Console()
    try:
        if Path(options.context).is_dir():  # the common case: no stdin tar or git URL to prepare
            return _run(options, console)
        from builder.context.fetch import prepared_context

        with prepared_context(options):  # a stdin or git context becomes a temporary directory
            return _run(options, console)
    except Exception as exc:  # user mistakes become messages; anything else is a real bug
        from builder.report import report_error

        code = report_error(exc, console)
        if code is None:
            raise
        return code


def _run(options: argparse.Namespace, console: object) -> int:
    from builder.frontend.buildargs import parse_build_args
    from builder.frontend.dockerfile import read_dockerfile
    from builder.frontend.request import PlanRequest

    from builder.commands.buildflags import check_docker_flags

    for warning in check_docker_flags(options):  # docker's refusals and warnings, before anything runs
        console.warning(warning)  # type: ignore[attr-defined]
    context = Path(options.context)
    source = read_dockerfile(context, options.file)
    request = PlanRequest(
        build_args=parse_build_args(options.build_args),
        target=options.target,
        platform=options.platform,
    )
    if not options.check:
        # Before anything heavy is imported: an unchanged, fully cached build is answered from its record.
        from builder.commands.replaying import replay_if_unchanged

        if (code := replay_if_unchanged(options, console, source, request)) is not None:
            return code
    from builder.frontend.check import check_dockerfile
    from builder.report import render_check

    report = check_dockerfile(source, request)
    if options.check:
        return render_check(report, console, json_format=options.format == "json")
    render_check(report, console, json_format=False, quiet_when_clean=True)
    from builder.commands.building import run_build

    return run_build(options, console, source, request, report)
