"""builder: plan, cache, execute and export builds; home of the CLI."""
from __future__ import annotations

__all__: list[str] = []
