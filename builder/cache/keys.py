"""Content-based cache keys, chained the way BuildKit's CacheMap digests are.

``key_for(parent, material)`` hashes the canonical JSON of the parent key and the
step's material: everything that can change the step's result, and nothing else
(no spans, comments or keyword spelling). Bump ``SCHEMA`` whenever the material of
any step changes meaning, so old records can never be matched by mistake.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from grammar import record

SCHEMA = 2  # 2: COPY --from / RUN --mount from= a stage key on the content of the files they read


@record
class CacheKey:
    hex: str

    def __str__(self) -> str:
        return self.hex

    @property
    def short(self) -> str:
        return self.hex[:12]


def key_for(parent: CacheKey | None, material: Mapping[str, Any]) -> CacheKey:
    document = {"v": SCHEMA, "parent": parent.hex if parent else None, **material}
    data = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return CacheKey(hashlib.sha256(data).hexdigest())
