"""docker-compose.yml runs the same processes as `make run`, ready for deployment."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_web_worker_beat_on_postgres_and_redis(compose):
    services = compose["services"]
    assert {"web", "worker", "beat", "postgres", "redis"} <= set(services)
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert "celery" in services["worker"]["command"] and "worker" in services["worker"]["command"]
    assert "beat" in services["beat"]["command"]


def test_compose_has_health_checks_volumes_and_restart_policies(compose):
    services = compose["services"]
    for name in ("postgres", "redis", "worker"):
        assert "test" in services[name]["healthcheck"], name
    for name in ("web", "worker", "beat", "postgres", "redis"):
        assert services[name]["restart"] == "unless-stopped", name
    assert any("postgresql/data" in v for v in services["postgres"]["volumes"])
    assert services["web"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_image_runs_as_a_non_root_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert "HEALTHCHECK" in dockerfile


def test_compose_config_validates():
    if shutil.which("docker-compose"):
        argv = ["docker-compose", "config", "-q"]
    elif (
        shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        argv = ["docker", "compose", "config", "-q"]
    else:
        pytest.skip("no docker compose here (apt-get install docker-compose to validate the file)")
    result = subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, env={"SECRET_KEY": "x", "PATH": "/usr/bin:/bin"}
    )
    assert result.returncode == 0, result.stderr
