"""`make run` prints an agent token for this machine once, the bundled agent's when it self-monitors."""

import pytest

from config.management.commands.console import ensure_first_agent_token
from servers.models import AgentToken

pytestmark = pytest.mark.django_db


def test_the_first_run_shows_the_bundled_agents_token_once(settings, tmp_path):
    settings.SELF_MONITOR = True
    settings.SELF_MONITOR_HOSTNAME = "console-host"
    settings.DATA_DIR = tmp_path

    hostname, raw = ensure_first_agent_token()

    assert hostname == "console-host"
    token = AgentToken.find(raw)
    assert token is not None and token.server.hostname == "console-host"
    assert (tmp_path / "self-monitor.token").read_text().strip() == raw  # what the agent will use
    assert ensure_first_agent_token() is None  # shown once


def test_without_self_monitoring_the_first_run_issues_a_token_for_this_machine(settings, tmp_path):
    settings.SELF_MONITOR = False
    settings.DATA_DIR = tmp_path

    hostname, raw = ensure_first_agent_token()

    assert AgentToken.find(raw).server.hostname == hostname
    assert ensure_first_agent_token() is None
    assert not (tmp_path / "self-monitor.token").exists()
