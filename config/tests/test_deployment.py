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


def test_migrations_run_once_in_a_one_off_service(compose):
    services = compose["services"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert "migrate" not in " ".join(services[name].get("command", [])), name
    assert "migrate" not in (ROOT / "Dockerfile").read_text().split("\nCMD")[-1]


def test_the_scale_profile_puts_nginx_before_two_daphnes(compose):
    services = compose["services"]
    scaled = [name for name, service in services.items() if "scale" in service.get("profiles", [])]
    assert set(scaled) == {"web-2", "nginx"}
    assert services["web-2"]["command"][0] == "daphne" and services["web"]["command"][0] == "daphne"
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server web:8000;" in nginx and "server web-2:8000;" in nginx
    stream = nginx.split("location /api/logs/stream/")[1].split("}")[0]
    assert "proxy_request_buffering off;" in stream
    assert any("deploy/nginx.conf" in volume for volume in services["nginx"]["volumes"])


def test_a_dead_beat_fails_its_health_check(compose):
    check = " ".join(compose["services"]["beat"]["healthcheck"]["test"])
    assert "/health" in check and "evaluation" in check
