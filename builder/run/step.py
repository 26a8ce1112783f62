"""Executing one RUN instruction: the argv (shell, exec or heredoc), the process spec, the container."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable

from builder.errors import BuildError
from builder.run.capabilities import kernel_capabilities
from builder.run.mounts import MountSources, PreparedMounts, prepare_mounts
from grammar import ExecForm, Run, record
from runtime import (BindMount, ContainerControl, ContainerError, ContainerResources, ProcessSpec, ProcessStartError,
                     run)

SANDBOX_HOSTNAME = "buildkitsandbox"
HEREDOC_PIPES = "/dev/pipes"


class StepFailed(BuildError):
    """A RUN exited non-zero (BuildKit's 'did not complete successfully')."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@record
class RunCommand:
    argv: tuple[str, ...]
    script: tuple[str, str] | None = None  # (name, content): a shebang heredoc run from /dev/pipes


def _chomp(text: str) -> str:
    return "".join(line.lstrip("\t") for line in text.splitlines(keepends=True))


def run_command(instruction: Run, shell: tuple[str, ...]) -> RunCommand:
    """BuildKit's dispatchRun: shell form wraps the SHELL; heredocs become scripts or shell input."""
    if isinstance(instruction.cmd, ExecForm):
        return RunCommand(instruction.cmd.argv)
    text = instruction.cmd.text
    if not instruction.heredocs:
        return RunCommand((*shell, text))
    first = instruction.heredocs[0]
    if len(instruction.heredocs) == 1 and _is_single_marker(text, first.name):
        body = _chomp(first.content) if first.chomp else first.content
        if body.startswith("#!"):
            return RunCommand((f"{HEREDOC_PIPES}/{first.name}",), script=(first.name, body))
        return RunCommand((*shell, body))
    full = text + "".join(f"\n{doc.content}{doc.name}" for doc in instruction.heredocs)
    return RunCommand((*shell, full))


def _is_single_marker(text: str, name: str) -> bool:
    word = text.strip()
    if not word.startswith("<<"):
        return False
    rest = word[2:].lstrip("-").strip().strip("'\"")
    return rest == name and " " not in word[2:].strip()


@record
class RunRequest:
    command: RunCommand
    env: tuple[tuple[str, str], ...]
    cwd: str
    user: str
    network: str
    mounts: tuple
    insecure: bool = False  # RUN --security=insecure: every capability, as a privileged container has
    extra_hosts: tuple[tuple[str, str], ...] = ()  # --add-host (name, address), written to /etc/hosts
    resources: ContainerResources = ContainerResources()  # --shm-size, --ulimit, --cgroup-parent


def execute_run(request: RunRequest, rootfs: list, sources: MountSources, state_root: str,
                on_output: Callable[[str, bytes], None], control: ContainerControl | None = None) -> PreparedMounts:
    """Run the command on ``rootfs`` (the active snapshot's mounts); raise StepFailed on a non-zero exit."""
    with contextlib.ExitStack() as stack:
        prepared = prepare_mounts(request.mounts, sources, stack)
        binds = list(prepared.binds)
        if request.command.script is not None:
            binds.append(_script_bind(request.command.script, stack))
        spec = ProcessSpec(
            argv=request.command.argv,
            env=(*request.env, *prepared.env),
            cwd=request.cwd or "/",
            user=request.user or "0:0",
            hostname=SANDBOX_HOSTNAME,
            network=_network_mode(request.network),
            mounts=tuple(binds),
            extra_hosts=request.extra_hosts,
            resources=request.resources,
            hosts_own_address=False,  # BuildKit's hosts file: localhost lines and --add-host only
            hostname_file=False,  # BuildKit binds /etc/resolv.conf and /etc/hosts only
            # BuildKit's insecure mode is a privileged container: every capability, no seccomp profile
            **({"capabilities": kernel_capabilities(), "seccomp": False} if request.insecure else {}),
        )
        shown = " ".join(request.command.argv)
        try:
            status = run(spec, rootfs, on_output, state_root=state_root, control=control)
        except ProcessStartError as exc:
            # BuildKit: runc's complaint in the step's output, then the step fails as runc exited, with 1
            on_output("stderr", f"runc run failed: {exc}\n".encode())
            raise StepFailed(f'process "{shown}" did not complete successfully: exit code: 1', 1) from exc
        except ContainerError as exc:
            raise BuildError(f"failed to start the RUN container: {exc}") from exc
        if not status.ok:
            raise StepFailed(f'process "{shown}" did not complete successfully: exit code: {status.code}',
                             status.code)
        return prepared


def _script_bind(script: tuple[str, str], stack: contextlib.ExitStack) -> BindMount:
    name, body = script
    directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="pybuild-pipes-"))
    path = os.path.join(directory, name)
    with open(path, "w") as handle:
        handle.write(body)
    os.chmod(path, 0o755)
    return BindMount(directory, HEREDOC_PIPES, read_only=True)


def _network_mode(mode: str) -> str:
    # BuildKit calls its default network "sandbox"; the runtime calls it "default".
    return {"sandbox": "default", "": "default"}.get(mode, mode)
