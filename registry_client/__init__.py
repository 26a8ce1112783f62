"""registry_client: OCI vocabulary, content store and distribution client."""
from __future__ import annotations

__all__: list[str] = []
