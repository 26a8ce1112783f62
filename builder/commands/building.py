"""The build half of ``pybuild build``: flags -> BuildRequest -> build -> image ID."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from builder.errors import UsageError
from builder.frontend.dockerfile import DockerfileSource
from builder.frontend.request import PlanRequest


def parse_secrets(values: list[str]) -> dict[str, bytes]:
    """``id=ID,src=FILE`` or ``id=ID,env=VAR`` (``type=file|env`` accepted, as in buildx)."""
    secrets: dict[str, bytes] = {}
    for value in values:
        fields = dict(part.split("=", 1) for part in value.split(",") if "=" in part)
        secret_id = fields.get("id")
        source = fields.get("src") or fields.get("source")
        env = fields.get("env")
        if not secret_id:
            raise UsageError(f"invalid --secret {value!r}: id is required")
        if source is None and env is None:
            env = secret_id if fields.get("type") == "env" else None
            source = None if env else secret_id
        if env is not None:
            if env not in os.environ:
                raise UsageError(f"--secret {secret_id}: environment variable {env} is not set")
            secrets[secret_id] = os.environ[env].encode()
        else:
            try:
                secrets[secret_id] = Path(source).expanduser().read_bytes()  # type: ignore[arg-type]
            except OSError as exc:
                raise UsageError(f"--secret {secret_id}: cannot read {source}: {exc.strerror}") from None
    return secrets


def parse_labels(values: list[str]) -> dict[str, str]:
    labels = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not key:
            raise UsageError(f"invalid --label {value!r}")
        labels[key] = text
    return labels


def parse_add_hosts(values: list[str]) -> tuple[tuple[str, str], ...]:
    """``--add-host`` values as docker's CLI reads them: ``host=ip`` or ``host:ip`` (IPv6 after the first ``:``)."""
    import ipaddress

    hosts = []
    for value in values:
        name, separator, address = value.partition("=")
        if not separator:
            name, separator, address = value.partition(":")
        if not separator or not name or ":" in name:
            raise UsageError(f"bad format for add-host: {value!r} (expected HOST:IP or HOST=IP)")
        if address != "host-gateway":  # the runtime writes the bridge gateway's address for it
            if len(address) > 2 and address[0] == "[" and address[-1] == "]":
                address = address[1:-1]
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise UsageError(f"invalid IP address in add-host: {address!r}") from None
        hosts.append((name, address))
    return tuple(hosts)


ENTITLEMENTS = ("network.host", "security.insecure")


def parse_entitlements(values: list[str]) -> frozenset[str]:
    chosen = {item.strip() for value in values for item in value.split(",") if item.strip()}
    unknown = chosen - set(ENTITLEMENTS)
    if unknown:
        raise UsageError(f"invalid --allow {', '.join(sorted(unknown))}: choose from {', '.join(ENTITLEMENTS)}")
    return frozenset(chosen)


def max_parallel(flag: int | None) -> int:
    """--max-parallel, else $PYBUILD_MAX_PARALLEL; 0 lets the builder choose."""
    text = str(flag) if flag is not None else os.environ.get("PYBUILD_MAX_PARALLEL", "")
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 1:
        raise UsageError(f"invalid max parallel stages {text!r}: expected a whole number of at least 1")
    return value


def source_date_epoch(build_args: dict[str, str]) -> int | None:
    text = build_args.get("SOURCE_DATE_EPOCH") or os.environ.get("SOURCE_DATE_EPOCH")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"invalid SOURCE_DATE_EPOCH {text!r}: expected seconds since the epoch") from None


def run_build(options: argparse.Namespace, console: Any, source: DockerfileSource, plan: PlanRequest,
              report: Any) -> int:
    import contextlib

    from builder.cache.explain import ExplainSummary
    from builder.cachetransfer import export_cache, import_cache, parse_cache_options
    from builder.commands.buildflags import run_resources
    from builder.commands.replaying import record_build
    from builder.console import BuildView, JsonEventView, LiveBuildView
    from builder.context.named import parse_build_contexts
    from builder.events import StepStarted
    from builder.outputs import apply_outputs, parse_outputs
    from builder.run.sshforward import forwarded_ssh
    from builder.services import open_services
    from builder.solve import BuildRequest, build

    context = Path(options.context)
    if not context.is_dir():
        raise UsageError(f"unable to prepare context: path {str(context)!r} not found")
    outputs = parse_outputs(options)  # a typo in -o fails before the build, not after
    cache_to, cache_from = parse_cache_options(options)  # so does a typo in --cache-to/--cache-from
    to_stdout = any(spec.dest == "-" for spec in outputs)
    quiet = options.quiet or options.progress == "quiet"
    live = not quiet and (options.progress == "tty" or (options.progress == "auto" and console.is_terminal))
    view: Any = (LiveBuildView(console) if live else JsonEventView(console) if options.progress == "rawjson"
                 else BuildView(console, quiet=quiet))
    titles: list[str] = []
    summary = ExplainSummary(console, enabled=getattr(options, "explain", False))

    def emit(event: Any) -> None:
        if isinstance(event, StepStarted):
            titles.append(event.title)
        summary(event)
        view(event)

    services = open_services(options.root, emit=emit)
    ssh_agents = contextlib.ExitStack()  # agents started for --ssh key files stop with the build
    request = BuildRequest(
        source=source, context=context.resolve(), plan=plan, tags=tuple(options.tags),
        no_cache=options.no_cache, no_cache_filter=tuple(name.lower() for name in options.no_cache_filter),
        pull=options.pull, secrets=parse_secrets(options.secret),
        network=options.network, source_date_epoch=source_date_epoch(dict(plan.build_args)),
        entitlements=parse_entitlements(options.allow + (["network.host"] if options.network == "host" else [])),
        labels=parse_labels(options.label),
        registry=_registry_factory(options), parsed=report.plan.dockerfile,
        named_contexts=parse_build_contexts(getattr(options, "build_contexts", [])),
        inline_cache=any(spec.kind == "inline" for spec in cache_to),
        extra_hosts=parse_add_hosts(getattr(options, "add_hosts", [])),
        run_resources=run_resources(options),
        max_parallel=max_parallel(getattr(options, "max_parallel", None)),
        ssh=ssh_agents.enter_context(forwarded_ssh(options.ssh)),  # last: nothing may fail after it
    )
    with ssh_agents, summary, view if live else contextlib.nullcontext():  # the summary prints after the live view ends
        import_cache(services, cache_from, request.registry)
        result = None
        try:
            result = build(request, services)
        finally:  # a failed build still exports the steps that succeeded
            exported = export_cache(services, cache_to, result.image.config.diff_ids if result else None,
                                    request.registry)
        apply_outputs(options, options.root, result.image, emit=emit)
    for export in [] if quiet else [done for done in exported if not done.error]:  # failures: warnings
        console.info(export.summary)
    record_build(options, source, plan, services, result.image, titles, [w.message for w in report.warnings])
    image_id = result.image.image_id
    if options.iidfile:
        Path(options.iidfile).write_text(image_id)
    if quiet and not to_stdout:
        console.result_line(image_id)
    elif not quiet:
        console.info(f"writing image {image_id} done")
        for tag in result.image.tags:
            console.info(f"naming to {tag} done")
    return 0


def _registry_factory(options: argparse.Namespace) -> Any:
    def factory() -> Any:
        from builder.registry_settings import load_settings

        return load_settings(options.root).client()

    return factory
