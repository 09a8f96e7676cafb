"""What background model work (log classification, event reviews) may spend, shared by every worker.

Two bounds, kept in Redis so every worker process sees them:
- a token budget per clock hour (LLM_TOKENS_PER_HOUR), charged with what Groq reports it used;
- a cooldown after Groq answers 429: no background call for Retry-After or
  LLM_COOLDOWN_SECONDS, whichever is longer.
When either holds, the caller answers without the model (the rules) or waits for its next round.
A person's own analysis (the Analyse button, POST .../analysis/llm) is not held back by them.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

COOLDOWN_KEY = "llm:background:cooldown"


def _hour_key(now: float) -> str:
    return f"llm:background:tokens:{int(now // 3600)}"


def held_back(estimated_tokens: int = 0, now: float | None = None) -> str | None:
    """Why a background call must not go to the model now, or None when it may."""
    now = time.time() if now is None else now
    try:
        until = cache.get(COOLDOWN_KEY)
        spent = cache.get(_hour_key(now)) or 0
    except Exception:  # without Redis the budget can't be kept: spend nothing
        log.warning("the LLM budget can't be read; background calls wait", exc_info=True)
        return "the LLM budget can't be read (Redis unavailable)"
    if until and until > now:
        return f"Groq asked us to slow down (429); cooling down for {until - now:.0f} s more"
    if spent + estimated_tokens > settings.LLM_TOKENS_PER_HOUR:
        return f"the hour's token budget is spent ({spent} of LLM_TOKENS_PER_HOUR={settings.LLM_TOKENS_PER_HOUR})"
    return None


def charge(tokens: int, now: float | None = None) -> None:
    """Count tokens Groq used against this hour's budget."""
    now = time.time() if now is None else now
    key = _hour_key(now)
    try:
        cache.add(key, 0, timeout=2 * 3600)
        cache.incr(key, tokens)
    except Exception:
        log.warning("could not count %d LLM tokens", tokens, exc_info=True)


def cool_down(retry_after: float | None, now: float | None = None) -> float:
    """After a 429: leave Groq alone for Retry-After or LLM_COOLDOWN_SECONDS, the longer. Answers the seconds."""
    now = time.time() if now is None else now
    seconds = max(float(retry_after or 0), float(settings.LLM_COOLDOWN_SECONDS))
    try:
        cache.set(COOLDOWN_KEY, now + seconds, timeout=int(seconds) + 1)
    except Exception:
        log.warning("could not record the LLM cooldown", exc_info=True)
    return seconds


def estimate_tokens(text: str) -> int:
    """About four characters a token: enough to keep a prompt inside the budget."""
    return len(text) // 4 + 1
