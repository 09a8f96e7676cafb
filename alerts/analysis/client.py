"""The LLM client: the official groq SDK, pointed at Groq or at any OpenAI-compatible server.

GROQ_BASE_URL is either a Groq-style root (``https://api.groq.com``, a proxy in
front of it), to which the SDK adds ``/openai/v1/chat/completions``, or an
OpenAI-style base ending in ``/v1`` (``http://localhost:11434/v1`` for Ollama,
``http://host:8000/v1`` for vLLM), to which only ``/chat/completions`` is added.

The API key is handed to the SDK and nowhere else: it is never logged, stored
or answered, and it is scrubbed from any error text we keep.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import groq
import httpx
from django.conf import settings

_GROQ_PREFIX = "/openai/v1/"


class LLMUnavailable(Exception):
    """The model could not be asked (no key, disabled, timeout, rate limit, server error)."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class GenerationRejected(Exception):
    """Groq's JSON mode refused what the model generated (400 json_validate_failed): an invalid answer."""

    def __init__(self, message: str, generation: str):
        super().__init__(message)
        self.generation = generation


@dataclass(frozen=True, slots=True)
class Completion:
    content: str
    model: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int


class _OpenAIStylePaths(httpx.HTTPTransport):
    """Maps the SDK's ``/openai/v1/…`` paths onto a base that already ends in ``/v1``."""

    def __init__(self, base_path: str, **kwargs):
        super().__init__(**kwargs)
        self._base_path = base_path.rstrip("/")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        marker = path.find(_GROQ_PREFIX)
        if marker >= 0:
            rest = path[marker + len(_GROQ_PREFIX) :]
            request.url = request.url.copy_with(path=f"{self._base_path}/{rest}")
        return super().handle_request(request)


def is_configured() -> bool:
    """True when analyses may ask the model: enabled and a key (or a keyless local base URL)."""
    if not settings.ENABLE_LLM_MONITORING:
        return False
    return bool(settings.GROQ_API_KEY) or bool(settings.GROQ_BASE_URL)


def scrub(text: str) -> str:
    """Error text without the API key, should a server or library echo it."""
    key = settings.GROQ_API_KEY
    if key and key in text:
        text = text.replace(key, "***")
    return text


def _openai_style(base_url: str) -> bool:
    return (base_url or "").rstrip("/").endswith("/v1")


def make_client(max_retries: int | None = None) -> groq.Groq:
    base_url = (settings.GROQ_BASE_URL or "").rstrip("/")
    http_client = None
    if _openai_style(base_url):
        http_client = httpx.Client(transport=_OpenAIStylePaths(httpx.URL(base_url).path))
    return groq.Groq(
        # a local Ollama or vLLM needs no key, but the SDK insists on one
        api_key=settings.GROQ_API_KEY or "no-key",
        base_url=base_url or None,
        timeout=settings.GROQ_TIMEOUT_SECONDS,
        max_retries=settings.GROQ_MAX_RETRIES if max_retries is None else max_retries,
        http_client=http_client,
    )


def complete(messages: list[dict], *, model: str | None = None, max_retries: int | None = None) -> Completion:
    """One chat completion in JSON mode; raises LLMUnavailable when the model can't answer.

    The SDK retries 429 (honouring Retry-After) and 5xx itself, GROQ_MAX_RETRIES times
    (``max_retries`` for this call: background work passes 0 and cools down instead).
    """
    model = model or settings.GROQ_MODEL
    options: dict = {}
    # Groq counts reasoning in max_completion_tokens; Ollama's compatibility layer knows only max_tokens.
    if _openai_style(settings.GROQ_BASE_URL):
        options["max_tokens"] = settings.GROQ_MAX_TOKENS
    else:
        options["max_completion_tokens"] = settings.GROQ_MAX_TOKENS
    if settings.GROQ_REASONING_EFFORT:
        options["reasoning_effort"] = settings.GROQ_REASONING_EFFORT
    started = time.monotonic()
    try:
        with make_client(max_retries) as client:
            response = client.chat.completions.create(
                model=model,
                messages=messages,
                response_format={"type": "json_object"},
                temperature=0.2,
                **options,
            )
    except groq.APITimeoutError:
        raise LLMUnavailable(f"timed out after {settings.GROQ_TIMEOUT_SECONDS:g}s")
    except groq.APIStatusError as exc:
        error = _error_of(exc)
        if exc.status_code == 400 and error.get("code") == "json_validate_failed":
            raise GenerationRejected(
                f"the model's JSON did not validate: {_message_of(exc)}", str(error.get("failed_generation") or "")
            )
        raise LLMUnavailable(
            scrub(f"HTTP {exc.status_code}: {_message_of(exc)}"), status=exc.status_code, retry_after=_retry_after(exc)
        )
    except groq.APIConnectionError as exc:
        raise LLMUnavailable(scrub(f"connection failed: {exc.__cause__ or exc}"))
    latency_ms = round((time.monotonic() - started) * 1000)
    if not response.choices:
        raise LLMUnavailable("the answer had no choices")
    choice = response.choices[0]
    usage = response.usage
    return Completion(
        content=choice.message.content or "",
        model=response.model or model,
        finish_reason=choice.finish_reason,
        prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
        completion_tokens=(usage.completion_tokens or 0) if usage else 0,
        latency_ms=latency_ms,
    )


def _error_of(exc: groq.APIStatusError) -> dict:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return error
    return {}


def _message_of(exc: groq.APIStatusError) -> str:
    message = _error_of(exc).get("message")
    return str(message or exc.message)[:300]


def _retry_after(exc: groq.APIStatusError) -> float | None:
    raw = exc.response.headers.get("retry-after") if exc.response is not None else None
    try:
        return float(raw) if raw else None
    except ValueError:
        return None  # an HTTP date: the cooldown setting applies
