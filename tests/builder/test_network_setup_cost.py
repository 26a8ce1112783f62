"""A build whose RUN steps use the default network on a host where the bridge exists never imports
pyroute2 (~300 ms): only setting the bridge up does. Run in a subprocess, on a bridge of the test's own
(tests/support/bridges.py), so ``sys.modules`` is the build's and ``pybuild0`` is never touched."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.bridges import bridge_argument, gateway_server, remove_bridge, scratch_bridge

pytestmark = pytest.mark.privileged
ROOT = Path(__file__).resolve().parents[2]

SET_UP_BRIDGE = textwrap.dedent("""
    import json
    import sys

    from runtime import network

    network.use_bridge(network.BridgeNetwork(**json.loads(sys.argv[1])))
    network.release(network.allocate("bridge-setup").to_record())
    assert "pyroute2" in sys.modules
""")

BUILD = textwrap.dedent("""
    import json
    import sys
    from pathlib import Path

    from builder.frontend.dockerfile import DockerfileSource
    from builder.frontend.plan import PlanRequest
    from builder.services import open_services
    from builder.solve import BuildRequest, build
    from runtime import network

    bridge, root, context, dockerfile = sys.argv[1:]
    network.use_bridge(network.BridgeNetwork(**json.loads(bridge)))
    services = open_services(Path(root), emit=lambda event: None)
    source = DockerfileSource("Dockerfile", None, dockerfile)
    build(BuildRequest(source=source, context=Path(context), plan=PlanRequest(), tags=("netsetup:built",)), services)
    print(json.dumps({"pyroute2 imported": "pyroute2" in sys.modules}))
""")


def test_a_run_build_with_the_default_network_leaves_pyroute2_unimported(built_root: Path, tmp_path: Path) -> None:
    bridge = scratch_bridge(tmp_path / "network")
    remove_bridge(bridge)
    try:
        subprocess.run([sys.executable, "-c", SET_UP_BRIDGE, bridge_argument(bridge)], cwd=ROOT, check=True,
                       timeout=60)
        gateway = str(bridge.gateway)
        with gateway_server(gateway, b"fetched over the bridge\n") as (port, requests):
            dockerfile = f"FROM busybox:local\nRUN wget -q -O /fetched.txt http://{gateway}:{port}/page\n"
            done = subprocess.run([sys.executable, "-c", BUILD, bridge_argument(bridge), str(built_root),
                                   str(tmp_path), dockerfile], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.splitlines()[-1]) == {"pyroute2 imported": False}
        assert requests == ["GET /page HTTP/1.1"]
    finally:
        remove_bridge(bridge)
