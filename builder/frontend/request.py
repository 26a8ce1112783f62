"""What the user asks a plan for; kept apart from ``builder.frontend.plan`` so the CLI can build one cheaply."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field

from grammar import record


@record
class PlanRequest:
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    platform: str | None = None
