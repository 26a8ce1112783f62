"""What a ``pybuild pull`` process loads: only what pulling needs (its start-up is most of a
small pull's time, issue 3), checked on a real pull from the real registry."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_FOR_A_PULL = {
    "builder.image.compression",  # push compresses layers; a pull stores what it receives
    "registry_client.pushing", "registry_client.login", "registry_client.layers",
}


def test_a_pull_from_a_plain_http_registry_loads_neither_push_code_nor_the_ca_store(noauth_registry, tmp_path):
    code = (
        "import sys; from builder.cli import main\n"
        "status = main(sys.argv[1:])\n"
        "from registry_client.tls import default_contexts\n"
        "print(repr((status, sorted(sys.modules), default_contexts().verifying_built)))\n")
    reference = f"{noauth_registry.host}/library/hello:latest"
    result = subprocess.run([sys.executable, "-c", code, "--root", str(tmp_path / "root"), "pull", "-q", reference],
                            capture_output=True, text=True, check=True, cwd=ROOT)
    status, modules, ca_store_loaded = ast.literal_eval(result.stdout.splitlines()[-1])
    assert status == 0 and result.stdout.splitlines()[0] == reference
    assert "registry_client.pulling" in modules and "requests" in modules
    assert NOT_FOR_A_PULL.isdisjoint(modules), NOT_FOR_A_PULL & set(modules)
    assert ca_store_loaded is False  # loopback is insecure: its https probe is unverified, then plain HTTP
