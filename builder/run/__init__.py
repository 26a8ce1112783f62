"""Running processes in containers: RUN steps, their mounts, SSH forwarding and ``pybuild run``.

- ``step``: one RUN instruction, from its argv (shell, exec or heredoc) to the finished container;
- ``mounts``: ``RUN --mount`` as host bind mounts, plus what each adds to the cache key;
- ``sshforward``: the SSH agents (a socket, or key files behind a private agent) ``--ssh`` names;
- ``containers``: ``pybuild run``, an image's command in a throw-away container.

Exports load on first use (``builder.lazy``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from builder.lazy import lazy_exports

if TYPE_CHECKING:
    from builder.run.containers import RunOptions, run_image
    from builder.run.mounts import prepare_mounts
    from builder.run.sshforward import forwarded_ssh
    from builder.run.step import RunRequest, StepFailed, execute_run

_EXPORTS: dict[str, str] = {
    "RunOptions": "builder.run.containers",
    "run_image": "builder.run.containers",
    "prepare_mounts": "builder.run.mounts",
    "forwarded_ssh": "builder.run.sshforward",
    "RunRequest": "builder.run.step",
    "StepFailed": "builder.run.step",
    "execute_run": "builder.run.step",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
