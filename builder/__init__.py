"""builder: plan, cache, execute and export builds; home of the CLI.

Subpackages, one job each (each ``__init__`` lists its modules and exports):

- ``frontend``: Dockerfile -> build plan (ARG/ENV scoping, expansion, stage DAG, ``--check``);
- ``context``: the build context (``.dockerignore``, content hashes; stdin, git, URL and named contexts);
- ``cache``: cache keys, the cache index, per-key locks, GC, ``pybuild cache``, cache-miss reasons;
- ``cachetransfer``: ``--cache-to`` / ``--cache-from``;
- ``copy``: COPY and ADD (sources, wildcards, owners, archives, URLs and git);
- ``run``: RUN (mounts, SSH forwarding) and ``pybuild run``;
- ``image``: image config and history, export into the store, compression, pull/push, import/load;
- ``imagestore``: the local image store (an OCI layout);
- ``outputs``: ``--output`` and ``--push``;
- ``replay``: fully cached rebuilds answered from a record;
- ``commands``: one module per ``pybuild`` sub-command.

Modules here tie them together: ``solve`` (the build), ``stagegraph`` (stages in parallel),
``stagestate`` and ``steps`` (one instruction at a time), ``baseimage`` (where a stage starts),
``layers`` (snapshots <-> layer blobs), ``services`` (what a build opens in the state root),
``registry_settings``, ``events`` (what the core reports), ``errors``, ``report``, ``lazy``, and the
only two that print: ``cli`` and ``console``.
"""
from __future__ import annotations

__all__: list[str] = []
