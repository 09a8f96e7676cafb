"""docker-compose.yml runs the same processes as `make run`, ready for deployment."""

import os
import shutil
import subprocess
import sys
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
        argv,
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"SECRET_KEY": "x", "POSTGRES_PASSWORD": "x", "PATH": "/usr/bin:/bin"},
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
    assert services["web-2"]["command"][:3] == services["web"]["command"][:3] == ["python", "manage.py", "web"]
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server web:8000;" in nginx and "server web-2:8000;" in nginx
    stream = nginx.split("location /api/logs/stream/")[1].split("}")[0]
    assert "proxy_request_buffering off;" in stream
    assert any("deploy/nginx.conf" in volume for volume in services["nginx"]["volumes"])


def test_a_dead_beat_fails_its_health_check(compose):
    check = " ".join(compose["services"]["beat"]["healthcheck"]["test"])
    assert "/health" in check and "evaluation" in check


def test_compose_requires_a_postgres_password(compose):
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${POSTGRES_PASSWORD:?" in compose["x-console"]["environment"]["DATABASE_URL"]
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert "POSTGRES_PASSWORD:-" not in text  # no default password anywhere


def _deploy_env(tmp_path, **extra) -> dict:
    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_SETTINGS_MODULE")}
    env.update(
        DATA_DIR=str(tmp_path),
        DATABASE_URL=settings.DATABASE_URL,
        REDIS_URL=settings.REDIS_URL,
        DEBUG="false",
        SECRET_KEY="production-" + "k3y-" * 12,
        ALLOWED_HOSTS="console.example.com",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    env.update(extra)
    return env


def _manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.django_db
def test_check_deploy_is_clean_behind_tls(tmp_path):
    result = _manage(_deploy_env(tmp_path, SECURE_SSL_REDIRECT="true"), "check", "--deploy")

    assert result.returncode == 0, result.stdout + result.stderr
    # every deployment (security.*) check passes; drf-spectacular's schema notes are the API schema's business
    assert "security." not in result.stdout + result.stderr


@pytest.mark.django_db
def test_plain_http_stays_possible_and_check_deploy_says_what_is_missing(tmp_path):
    result = _manage(_deploy_env(tmp_path), "check", "--deploy")

    assert result.returncode == 0  # warnings only
    assert "security.W008" in result.stdout + result.stderr  # SECURE_SSL_REDIRECT


@pytest.mark.django_db
def test_daphne_takes_proxy_headers_only_behind_a_configured_proxy(tmp_path):
    direct = _manage(_deploy_env(tmp_path), "web", "--print")
    proxied = _manage(_deploy_env(tmp_path, SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https"), "web", "--print")

    assert "--proxy-headers" not in direct.stdout and "config.asgi:application" in direct.stdout
    assert "--proxy-headers" in proxied.stdout
