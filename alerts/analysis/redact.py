"""Secrets out of the evidence pack before it leaves for the model (and before it is stored).

Log lines, event messages and labels are written by anyone's software, and
some print credentials: a connection string with its password, an
``Authorization: Bearer`` header, ``password=...`` in a failed command line,
a cloud key. The model's provider would receive them, and the stored pack
would show them to everyone who reads the analysis. Every string in the pack
goes through ``redact_text``; a value under a key that names a secret
(``password``, ``token``, ``api_key``...) is replaced whole.
"""

from __future__ import annotations

import re

MARK = "[REDACTED]"

SECRET_KEY_NAME = re.compile(
    r"(?i)^(pass(word|wd)?|pwd|secret|client_secret|token|access_token|refresh_token|api[_-]?key|apikey"
    r"|private[_-]?key|authorization|auth|credentials?|cookie|session(id)?|dsn)$"
)

# (pattern, replacement); the replacement keeps what tells a reader where the secret was
PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # PEM private keys, whole
    (
        re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)", re.S),
        MARK,
    ),
    # scheme://user:password@host — connection strings (postgres, redis, amqp, mongodb, http basic)
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,20}://[^\s:/@'\"]*):[^\s@/'\"]+@"), rf"\1:{MARK}@"),
    # Authorization headers and bearer tokens
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1\2{MARK}"),
    # key=value and key: value where the key names a secret (command lines, config dumps, JSON in a log line)
    (
        re.compile(
            r"(?i)([\"']?\b(?:[a-z0-9_.-]*(?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key"
            r"|private[_-]?key|credentials?|auth))[\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&}\]]+)"
        ),
        rf"\1{MARK}",
    ),
    # "password S3cr3t-1": a secret word then, after a space, a word with a digit in it (a log template
    # miner turns "password=..." into "password ..."); "password expired" stays
    (
        re.compile(r"(?i)\b(pass(?:word|wd)?|pwd|secret|token|api[_-]?key|apikey)(\s+)(?=[^\s,;]*\d)[^\s,;]{6,}"),
        rf"\1\2{MARK}",
    ),
    # well-known token shapes: JWTs, this console's tokens, Groq, OpenAI-style, Slack, GitHub, AWS, Google
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), MARK),
    (re.compile(r"\bmc[afu]_[A-Za-z0-9_-]{16,}"), MARK),
    (re.compile(r"\bgsk_[A-Za-z0-9]{16,}"), MARK),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), MARK),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), MARK),
    (re.compile(r"\bhooks\.slack\.com/services/[A-Za-z0-9/_-]+"), f"hooks.slack.com/services/{MARK}"),
    (re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), MARK),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), MARK),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), MARK),
]


def redact_text(text: str) -> str:
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value):
    """The same structure with every string redacted, and values under secret-named keys replaced."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            key: MARK if isinstance(key, str) and SECRET_KEY_NAME.match(key) and value[key] else redact(value[key])
            for key in value
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value
