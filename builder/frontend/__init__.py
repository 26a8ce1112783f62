"""From Dockerfile text to a build plan: what BuildKit's Dockerfile frontend does before solving.

- ``dockerfile``: locating, reading and parsing the Dockerfile (with a parse cache);
- ``request``: ``PlanRequest``, what the user asks for (target, build args, platform);
- ``buildargs``: ``--build-arg`` parsing and the predefined proxy and platform ARGs;
- ``scope``: ARG and ENV scoping, global and per stage;
- ``words``: word expansion bound to a scope and a Dockerfile location;
- ``plan``: ``make_plan``, the global ARGs, expanded FROMs, target and stage DAG;
- ``check``: ``pybuild --check``, every instruction expanded and validated without building.

``pybuild --check`` needs nothing of the builder beyond this package and ``builder.errors``, so exports
load on first use (``builder.lazy``): importing a module here never loads the cache, copier or runtime.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from builder.lazy import lazy_exports

if TYPE_CHECKING:
    from builder.frontend.buildargs import parse_build_args
    from builder.frontend.check import CheckReport, check_dockerfile
    from builder.frontend.dockerfile import DockerfileSource, load_dockerfile
    from builder.frontend.plan import BuildPlan, StagePlan, make_plan
    from builder.frontend.request import PlanRequest

_EXPORTS: dict[str, str] = {
    "parse_build_args": "builder.frontend.buildargs",
    "CheckReport": "builder.frontend.check",
    "check_dockerfile": "builder.frontend.check",
    "DockerfileSource": "builder.frontend.dockerfile",
    "load_dockerfile": "builder.frontend.dockerfile",
    "BuildPlan": "builder.frontend.plan",
    "StagePlan": "builder.frontend.plan",
    "make_plan": "builder.frontend.plan",
    "PlanRequest": "builder.frontend.request",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
