"""An analysis asks the model through the groq SDK; a local server plays Groq, scripted per test."""

from __future__ import annotations

import logging

import pytest
from django.utils import timezone

from alerts.analysis import runner
from alerts.choices import AnalysisStatus
from alerts.models import Analysis
from alerts.tests.fake_groq import GOOD_ANSWER, FakeGroq, Reply, error_body
from alerts.tests.incident_data import store_incident

pytestmark = pytest.mark.django_db

KEY = "gsk_test_secret_key_0123456789"


@pytest.fixture
def groq_server(settings):
    with FakeGroq() as server:
        settings.ENABLE_LLM_MONITORING = True
        settings.GROQ_API_KEY = KEY
        settings.GROQ_BASE_URL = server.url
        settings.GROQ_MODEL = "openai/gpt-oss-120b"
        settings.GROQ_TIMEOUT_SECONDS = 2
        settings.GROQ_MAX_RETRIES = 1
        yield server


@pytest.fixture
def incident(web01):
    store_incident(web01, timezone.now())
    return web01


def _analyse(**kwargs) -> Analysis:
    analysis = Analysis.objects.create(lookback_minutes=30, focus_areas=kwargs.pop("focus_areas", ["cpu"]), **kwargs)
    return runner.run(analysis)


def test_a_good_answer_is_stored_with_model_tokens_and_latency(groq_server, incident):
    analysis = _analyse()
    assert analysis.status == AnalysisStatus.DONE
    assert not analysis.is_fallback
    assert analysis.result == GOOD_ANSWER
    assert analysis.model == "openai/gpt-oss-120b"
    assert (analysis.prompt_tokens, analysis.completion_tokens, analysis.tokens_used) == (900, 120, 1020)
    assert analysis.latency_ms is not None
    assert analysis.attempts == 1
    assert analysis.evidence["series"][0]["series"] == "cpu.usage"


def test_the_request_carries_model_evidence_and_json_mode(groq_server, incident):
    _analyse()
    [request] = groq_server.requests
    assert request["path"] == "/openai/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    body = request["json"]
    assert body["model"] == "openai/gpt-oss-120b"
    assert body["response_format"] == {"type": "json_object"}
    assert body["max_completion_tokens"] == 1024
    assert body["reasoning_effort"] == "low"
    system, user = body["messages"]
    assert system["role"] == "system" and "key_findings" in system["content"]
    assert "Focus areas: cpu" in user["content"]
    assert "Database timeout after <*> ms on query <*>" in user["content"]
    assert "response_time 8200 exceeds 5000" in user["content"]
    assert "web-01" in user["content"]


def test_an_openai_style_base_url_gets_chat_completions_under_v1(groq_server, incident, settings):
    settings.GROQ_BASE_URL = groq_server.url + "/v1"
    settings.GROQ_API_KEY = ""
    settings.GROQ_REASONING_EFFORT = ""
    analysis = _analyse()
    assert analysis.status == AnalysisStatus.DONE and not analysis.is_fallback
    [request] = groq_server.requests
    assert request["path"] == "/v1/chat/completions"
    assert "reasoning_effort" not in request["json"]
    assert request["json"]["max_tokens"] == 1024 and "max_completion_tokens" not in request["json"]
    assert request["headers"]["Authorization"] == "Bearer no-key"


def test_invalid_json_is_retried_once_with_the_reason(groq_server, incident):
    groq_server.queue(Reply(content="The CPU is high, sorry no JSON"))
    analysis = _analyse()
    assert analysis.status == AnalysisStatus.DONE
    assert analysis.result == GOOD_ANSWER
    assert analysis.attempts == 2
    assert analysis.tokens_used == 2040
    second = groq_server.requests[1]["json"]["messages"]
    assert second[-2] == {"role": "assistant", "content": "The CPU is high, sorry no JSON"}
    assert "not JSON" in second[-1]["content"]


def test_two_invalid_answers_store_a_failed_analysis_with_the_reason(groq_server, incident):
    partial = '{"analysis": "CPU high", "severity": "CRITICAL"}'
    groq_server.queue(Reply(content="not json"), Reply(content=partial))
    analysis = _analyse()
    assert analysis.status == AnalysisStatus.FAILED
    assert analysis.error == "invalid answer twice: key_findings: Field required"
    assert analysis.is_fallback  # a person still gets the rule-based reading
    assert analysis.result["severity"] == "CRITICAL"
    assert len(groq_server.requests) == 2


@pytest.mark.parametrize(
    "bad, reason",
    [
        (
            '{"analysis": "x", "severity": "PANIC", "key_findings": ["a"], "recommendations": ["b"], "confidence": 0.5}',
            "severity",
        ),
        (
            '{"analysis": "x", "severity": "WARNING", "key_findings": ["a"], "recommendations": ["b"], "confidence": 1.5}',
            "confidence",
        ),
        (
            '{"analysis": "", "severity": "WARNING", "key_findings": ["a"], "recommendations": ["b"], "confidence": 0.5}',
            "analysis",
        ),
        (
            '{"analysis": "x", "severity": "WARNING", "key_findings": [], "recommendations": ["b"], "confidence": 0.5}',
            "key_findings",
        ),
        ('["a list"]', "not a JSON object"),
        ("", "empty"),
    ],
)
def test_each_kind_of_bad_answer_is_named(groq_server, incident, bad, reason):
    groq_server.queue(Reply(content=bad), Reply(content=bad))
    analysis = _analyse()
    assert analysis.status == AnalysisStatus.FAILED
    assert reason in analysis.error


def test_an_answer_cut_off_at_max_tokens_is_partial(groq_server, incident):
    groq_server.queue(Reply(content='{"analysis": "CPU', finish_reason="length"))
    analysis = _analyse()
    assert analysis.status == AnalysisStatus.DONE and analysis.attempts == 2


def test_429_with_retry_after_is_retried_by_the_sdk(groq_server, incident):
    groq_server.queue(Reply(status=429, body=error_body(429, "Rate limit reached"), headers={"retry-after": "1"}))
    analysis = _analyse()
    assert analysis.status == AnalysisStatus.DONE and not analysis.is_fallback
    assert len(groq_server.requests) == 2
    assert analysis.latency_ms >= 900  # it waited as told


def test_429_that_persists_falls_back_to_rules(groq_server, incident):
    limited = Reply(status=429, body=error_body(429, "Rate limit reached"), headers={"retry-after": "0"})
    groq_server.queue(limited, limited)
    analysis = _analyse()
    assert analysis.status == AnalysisStatus.DONE
    assert analysis.is_fallback
    assert analysis.error == "HTTP 429: Rate limit reached"
    assert "could not answer" in analysis.fallback_reason
    assert analysis.result["severity"] == "CRITICAL"


def test_500_falls_back_to_rules(groq_server, incident, settings):
    settings.GROQ_MAX_RETRIES = 0
    groq_server.queue(Reply(status=500, body=error_body(500, "Internal Server Error")))
    analysis = _analyse()
    assert analysis.is_fallback and analysis.status == AnalysisStatus.DONE
    assert analysis.error == "HTTP 500: Internal Server Error"
    assert len(groq_server.requests) == 1


def test_a_timeout_falls_back_to_rules(groq_server, incident, settings):
    settings.GROQ_MAX_RETRIES = 0
    settings.GROQ_TIMEOUT_SECONDS = 0.3
    groq_server.queue(Reply(delay=1.5))
    analysis = _analyse()
    assert analysis.is_fallback
    assert analysis.error == "timed out after 0.3s"


def test_the_key_appears_nowhere_we_keep_or_log(groq_server, incident, caplog):
    groq_server.queue(Reply(status=401, body=error_body(401, f"Invalid API Key {KEY}")))
    with caplog.at_level(logging.DEBUG):
        analysis = _analyse()
    assert analysis.is_fallback
    stored = str(analysis.as_dict()) + analysis.error + analysis.fallback_reason
    assert KEY not in stored and "***" in analysis.error
    assert KEY not in caplog.text


def test_groq_refusing_the_generated_json_counts_as_an_invalid_answer(groq_server, incident):
    refused = {
        "error": {
            "message": "Failed to generate JSON. Please adjust your prompt. See 'failed_generation' for more details.",
            "type": "invalid_request_error",
            "code": "json_validate_failed",
            "failed_generation": '{"analysis": "CPU high",',
        }
    }
    groq_server.queue(Reply(status=400, body=refused))
    analysis = _analyse()
    assert analysis.status == AnalysisStatus.DONE and not analysis.is_fallback
    assert analysis.attempts == 2
    retry = groq_server.requests[1]["json"]["messages"]
    assert retry[-2] == {"role": "assistant", "content": '{"analysis": "CPU high",'}
    assert "did not validate" in retry[-1]["content"]


def test_any_other_400_falls_back_to_rules(groq_server, incident):
    groq_server.queue(Reply(status=400, body=error_body(400, "The model `openai/gpt-oss-120b` does not exist")))
    analysis = _analyse()
    assert analysis.is_fallback and analysis.attempts == 1
    assert analysis.error == "HTTP 400: The model `openai/gpt-oss-120b` does not exist"
