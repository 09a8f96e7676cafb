"""A receiver verifies a webhook the Standard Webhooks way, with the helper the docs give."""

import base64
import hashlib
import hmac
import re
import time
from pathlib import Path

import pytest

from alerts.transports import sign, verify_webhook

DOCS = Path(__file__).resolve().parents[2] / "docs" / "alerting.md"


def _docs_helper():
    """The receiver's helper as docs/alerting.md prints it, run as a receiver would paste it."""
    text = DOCS.read_text()
    section = text[text.index("**Verifying a webhook.**") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOCS), "exec"), namespace)
    return namespace["verify"]


@pytest.fixture(params=["alerts.transports.verify_webhook", "docs/alerting.md"])
def verify(request):
    return verify_webhook if request.param.startswith("alerts") else _docs_helper()


SECRET = "s3cret-for-tests"
BODY = b'{"kind":"test"}'


def _signed(secret=SECRET, message_id="msg_1", timestamp=None, body=BODY) -> dict:
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


def test_a_signed_webhook_verifies(verify):
    assert verify(SECRET, _signed(), BODY)


def test_the_signature_is_standard_webhooks_v1_over_id_timestamp_and_body():
    headers = _signed(timestamp=1_700_000_000)
    expected = hmac.new(SECRET.encode(), b"msg_1.1700000000." + BODY, hashlib.sha256).digest()

    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()


def test_a_whsec_secret_is_used_as_its_decoded_bytes():
    key = b"\x00\x01secret-bytes"
    secret = "whsec_" + base64.b64encode(key).decode()
    headers = _signed(secret=secret, timestamp=1_700_000_000)
    expected = hmac.new(key, b"msg_1.1700000000." + BODY, hashlib.sha256).digest()

    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()


def test_a_tampered_body_an_old_timestamp_or_another_secret_fails(verify):
    assert not verify(SECRET, _signed(), BODY + b" ")
    assert not verify(SECRET, _signed(timestamp=int(time.time()) - 3600), BODY)
    assert not verify("other", _signed(), BODY)


def test_one_of_several_signatures_may_match_as_during_a_secret_rotation(verify):
    headers = _signed()
    headers["webhook-signature"] = "v1,bm90LXRoaXM= " + headers["webhook-signature"]

    assert verify(SECRET, headers, BODY)


def test_header_names_are_case_insensitive(verify):
    headers = {k.title(): v for k, v in _signed().items()}

    assert verify(SECRET, headers, BODY)


ODD_VALUES = [None, "", " ", "v1,", "v1", ",", "v2,abc", "v1,!!!notbase64", "x" * 100_000, "١٧٠٠٠٠٠٠٠٠", "-1",
              "1e9", "99999999999999999999999", "\x00", "é", b"bytes", 12, ["a"], {"a": 1}, "\udcff"]  # fmt: skip


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
@pytest.mark.parametrize("value", ODD_VALUES, ids=range(len(ODD_VALUES)))
def test_any_header_value_answers_false_without_raising(name, value, verify):
    headers = _signed()
    headers[name] = value

    assert verify(SECRET, headers, BODY) is False


@pytest.mark.parametrize("headers", [None, {}, {"webhook-id": "x"}, [("webhook-id", "x")]])
def test_missing_headers_answer_false(headers, verify):
    assert verify(SECRET, headers, BODY) is False


def test_a_whsec_secret_verifies(verify):
    secret = "whsec_" + base64.b64encode(b"rotating-key").decode()

    assert verify(secret, _signed(secret=secret), BODY)
