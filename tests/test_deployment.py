"""docker-compose.yml and the image: checked here, where no Docker engine runs.

The structural checks always run; ``docker compose config`` runs too where the Compose
plugin is installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pmp.topology import SERVICE_NAMES

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_service_and_the_gateway_run_from_the_one_image(compose):
    services = compose["services"]
    for name in (*SERVICE_NAMES, "gateway"):
        assert services[name]["image"] == "cpmrs:latest", name
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert services[name]["command"] == ["service", name]
    assert {"rabbitmq", "postgres", "mailpit"} <= set(services)


def test_services_can_be_scaled_out(compose):
    """``--scale query=3`` needs no fixed name or host port, and a shared database."""
    for name in SERVICE_NAMES:
        service = compose["services"][name]
        assert "container_name" not in service, name
        assert "ports" not in service, f"{name} would collide on its host port when scaled"
        database = service["environment"]["PMP_DATABASE_URL"]
        assert database.startswith("postgresql"), f"{name} replicas would not share SQLite"


def test_the_gateway_listens_on_port_8000_for_the_host(compose):
    gateway = compose["services"]["gateway"]
    assert gateway["ports"] == ["8000:8000"]
    assert gateway["environment"]["PMP_GATEWAY_ADDRESS"] == "0.0.0.0:8000"


def test_the_image_copies_what_exists_and_runs_unprivileged():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    assert "\nUSER pmp\n" in dockerfile


def _compose_plugin() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _compose_plugin(), reason="the docker compose plugin is not installed")
def test_docker_compose_accepts_the_file():
    result = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
