"""runtime: Linux isolation and filesystem snapshots. Knows nothing about OCI."""
from __future__ import annotations

__all__: list[str] = []
