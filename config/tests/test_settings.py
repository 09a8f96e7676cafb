"""Settings are read from the environment by small typed helpers, defaults beside them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_secret

ROOT = Path(__file__).resolve().parents[2]


def test_bool_accepts_the_usual_spellings(monkeypatch):
    for raw, expected in [("true", True), ("1", True), ("YES", True), ("off", False), ("0", False)]:
        monkeypatch.setenv("X_FLAG", raw)
        assert env_bool("X_FLAG", not expected) is expected


def test_bool_refuses_nonsense(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG", False)


def test_defaults_apply_when_unset(monkeypatch):
    monkeypatch.delenv("X_NUM", raising=False)
    assert env_int("X_NUM", 42) == 42
    assert env_float("X_NUM", 1.5) == 1.5
    assert env_list("X_NUM", ["a"]) == ["a"]


def test_int_refuses_nonsense(monkeypatch):
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(ImproperlyConfigured, match="X_NUM must be an integer"):
        env_int("X_NUM", 1)


def test_list_splits_on_commas(monkeypatch):
    monkeypatch.setenv("X_LIST", "a.example, b.example,,")
    assert env_list("X_LIST", []) == ["a.example", "b.example"]


def test_secret_may_come_from_a_file(monkeypatch, tmp_path):
    path = tmp_path / "secret"
    path.write_text("s3cret\n")
    monkeypatch.delenv("X_SECRET", raising=False)
    monkeypatch.setenv("X_SECRET_FILE", str(path))
    assert env_secret("X_SECRET") == "s3cret"


def _settings_in_subprocess(env: dict, expr: str) -> subprocess.CompletedProcess:
    code = f"import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings'); from django.conf import settings; print({expr})"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def _base_env(tmp_path) -> dict:
    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE")}
    # reuse the running test services so the subprocess starts nothing
    env.update(DATA_DIR=str(tmp_path), DATABASE_URL=settings.DATABASE_URL, REDIS_URL=settings.REDIS_URL)
    return env


def test_secret_key_is_refused_when_missing_and_debug_off(tmp_path):
    env = _base_env(tmp_path) | {"DEBUG": "false"}
    result = _settings_in_subprocess(env, "settings.SECRET_KEY")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_secret_key_is_generated_once_in_development(tmp_path):
    env = _base_env(tmp_path) | {"DEBUG": "true"}
    first = _settings_in_subprocess(env, "settings.SECRET_KEY")
    second = _settings_in_subprocess(env, "settings.SECRET_KEY")
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.strip()) >= 50
    assert first.stdout == second.stdout
    assert (tmp_path / "secret_key").read_text().strip() == first.stdout.strip()


def test_environment_overrides_reach_settings(tmp_path):
    env = _base_env(tmp_path) | {
        "SECRET_KEY": "k" * 50,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "console.example.com,10.0.0.5",
        "TIME_ZONE": "Europe/Paris",
        "PORT": "9001",
    }
    result = _settings_in_subprocess(env, "(settings.ALLOWED_HOSTS, settings.TIME_ZONE, settings.PORT, settings.DEBUG)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(['console.example.com', '10.0.0.5'], 'Europe/Paris', 9001, False)"


def test_debug_is_off_unless_asked_for(tmp_path):
    env = _base_env(tmp_path) | {"SECRET_KEY": "k" * 50}
    result = _settings_in_subprocess(env, "settings.DEBUG")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_command_beside_a_development_run_uses_its_key_with_debug_off(tmp_path):
    development = _settings_in_subprocess(_base_env(tmp_path) | {"DEBUG": "true"}, "settings.SECRET_KEY")
    command = _settings_in_subprocess(_base_env(tmp_path), "settings.SECRET_KEY")
    assert command.returncode == 0, command.stderr
    assert command.stdout == development.stdout


def test_make_run_turns_debug_on_explicitly():
    makefile = (ROOT / "Makefile").read_text()
    run = makefile[makefile.index("\nrun:") :].split("\n\n")[0]
    assert "DEBUG=$${DEBUG:-true}" in run
