"""A channel cannot be pointed at the console's own network (SSRF): the guard on every outgoing webhook.

The tests' receiver listens on 127.0.0.1, which the guard refuses unless
WEBHOOK_ALLOW_PRIVATE is true (the default only with DEBUG on, as in the suite).
"""

import pytest
from django.core.exceptions import ValidationError

from alerts import notify, outbound
from alerts.choices import DeliveryStatus
from alerts.models import Delivery, NotificationChannel
from alerts.outbound import RefusedDestination, check_destination, masked_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def guarded(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    settings.NOTIFY_TIMEOUT_SECONDS = 3
    return settings


def _send_test(url: str, kind: str = "webhook") -> Delivery:
    channel = NotificationChannel.objects.create(name=f"hook {url}", kind=kind, config={"url": url, "secret": "s"})
    return notify.attempt(channel, None, "test", 1, last=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://[::1]:9/hook",
        "http://[::ffff:127.0.0.1]:9/hook",
        "http://10.0.0.8/hook",
        "http://192.168.1.1/hook",
        "http://172.16.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0:9/",
    ],
)
def test_a_webhook_to_the_console_s_own_network_is_refused_and_not_retried(guarded, url, receiver):
    delivery = _send_test(url)

    assert delivery.status == DeliveryStatus.FAILED  # permanent: retrying cannot help
    assert "refused" in delivery.error and "WEBHOOK_ALLOW_PRIVATE" in delivery.error
    assert receiver.requests == []


@pytest.mark.parametrize("url", ["ftp://hooks.example.com/x", "file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO"])
def test_only_http_and_https_are_sent_to(guarded, url):
    delivery = _send_test(url)

    assert delivery.status == DeliveryStatus.FAILED and "only http and https" in delivery.error


def test_a_slack_channel_obeys_the_same_guard(guarded):
    delivery = _send_test("http://127.0.0.1:9/services/T/B/x", kind="slack")

    assert delivery.status == DeliveryStatus.FAILED and "refused" in delivery.error


def test_a_public_address_passes_the_guard(guarded):
    destination = check_destination("https://93.184.215.14:8443/hook")

    assert destination.address == "93.184.215.14"


def test_private_receivers_are_allowed_when_the_setting_says_so(settings, receiver):
    settings.WEBHOOK_ALLOW_PRIVATE = True

    delivery = _send_test(receiver.url)

    assert delivery.status == DeliveryStatus.SENT and len(receiver.requests) == 1


def test_a_redirect_is_not_followed(settings, receiver):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    receiver.codes = [302]
    receiver.location = "http://169.254.169.254/latest/meta-data/"

    delivery = _send_test(receiver.url)

    assert delivery.status == DeliveryStatus.FAILED and delivery.response_code == 302
    assert "redirect" in delivery.error
    assert len(receiver.requests) == 1


def test_proxies_from_the_environment_are_not_used(settings, receiver, monkeypatch):
    from alerts.tests.conftest import Receiver

    settings.WEBHOOK_ALLOW_PRIVATE = True
    proxy = Receiver()  # would see the request if the environment's proxy were used
    try:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, proxy.url.rsplit("/", 1)[0])
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)

        delivery = _send_test(receiver.url)

        assert delivery.status == DeliveryStatus.SENT
        assert len(receiver.requests) == 1 and proxy.requests == []
    finally:
        proxy.stop()


def test_a_host_that_resolves_to_a_private_address_is_refused(guarded, monkeypatch):
    # DNS answers are the attacker's to choose: the guard judges the addresses, not the name
    monkeypatch.setattr(outbound.socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("10.1.2.3", 80))])

    with pytest.raises(RefusedDestination, match=r"hooks.example.com \(10.1.2.3\)"):
        check_destination("https://hooks.example.com/x")


def test_the_connection_goes_to_the_address_checked(settings, receiver, monkeypatch):
    # a name resolved once, to the receiver; a second resolution (rebinding) would go elsewhere
    settings.WEBHOOK_ALLOW_PRIVATE = True
    port = int(receiver.url.split(":")[2].split("/")[0])
    real, asked = outbound.socket.getaddrinfo, []

    def dns(host, *args, **kwargs):
        if host != "hooks.example.com":
            return real(host, *args, **kwargs)
        asked.append(host)
        address = "127.0.0.1" if len(asked) == 1 else "192.0.2.1"  # a second answer would go nowhere
        return [(2, 1, 6, "", (address, port))]

    monkeypatch.setattr(outbound.socket, "getaddrinfo", dns)

    delivery = _send_test(f"http://hooks.example.com:{port}/hook")

    assert delivery.status == DeliveryStatus.SENT and asked == ["hooks.example.com"]
    assert receiver.requests[0]["headers"]["Host"] == f"hooks.example.com:{port}"


def test_saving_a_channel_to_a_private_address_is_refused(guarded):
    channel = NotificationChannel(name="meta", kind="webhook", config={"url": "http://169.254.169.254/"})

    with pytest.raises(ValidationError, match="WEBHOOK_ALLOW_PRIVATE"):
        channel.full_clean()


def test_the_admin_test_action_obeys_the_guard(guarded, client, alice):
    channel = NotificationChannel.objects.create(name="meta", kind="webhook", config={"url": "http://169.254.169.254/"})
    client.force_login(alice)

    response = client.post(
        "/admin/alerts/notificationchannel/",
        {"action": "send_test_notification", "_selected_action": [channel.pk]},
        follow=True,
    )

    assert "not sent" in response.content.decode() and "WEBHOOK_ALLOW_PRIVATE" in response.content.decode()
    assert not Delivery.objects.exists()


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://hooks.slack.com/services/T000/B000/XXXXSECRET", "https://hooks.slack.com/…"),
        ("https://user:pw@hooks.example.com:8443/a?token=x", "https://hooks.example.com:8443/…"),
        ("http://[::1]:9/x", "http://[::1]:9/…"),
        ("", ""),
    ],
)
def test_a_channel_url_is_shown_as_scheme_and_host(url, shown):
    assert masked_url(url) == shown


def test_the_api_shows_channels_without_their_secrets(api):
    NotificationChannel.objects.create(
        name="slack", kind="slack", config={"url": "https://hooks.slack.com/services/T000/B000/XXXXSECRET"}
    )
    NotificationChannel.objects.create(
        name="hook", kind="webhook", config={"url": "https://hooks.example.com/p/SECRETPATH", "secret": "zzz-secret"}
    )

    body = api.get("/api/notifications/channels").content.decode()

    assert "XXXXSECRET" not in body and "SECRETPATH" not in body and "zzz-secret" not in body
    assert "https://hooks.slack.com/…" in body and "https://hooks.example.com/…" in body


def test_the_admin_list_shows_channels_masked(client, alice):
    NotificationChannel.objects.create(
        name="slack", kind="slack", config={"url": "https://hooks.slack.com/services/T000/B000/XXXXSECRET"}
    )
    client.force_login(alice)

    page = client.get("/admin/alerts/notificationchannel/").content.decode()

    assert "hooks.slack.com" in page and "XXXXSECRET" not in page


def test_logs_show_a_channel_s_scheme_and_host_but_never_its_path(receiver, caplog):
    secret_url = receiver.url + "/T0001/B0002/XXXXSECRETPATH"
    caplog.set_level("DEBUG")

    delivery = _send_test(secret_url)
    broken = _send_test("http://127.0.0.1:9/T0001/B0002/XXXXSECRETPATH")  # refused connection: an error is logged

    assert delivery.status == DeliveryStatus.SENT and receiver.requests
    assert any(record.name == "httpx" for record in caplog.records)  # the client did log the request
    assert "XXXXSECRETPATH" not in caplog.text
    assert "XXXXSECRETPATH" not in broken.error


def test_an_unexpected_error_s_text_is_recorded_and_logged_with_urls_masked(monkeypatch, receiver, caplog):
    def broken_post(url, body, headers, timeout):
        raise ValueError(f"could not post to {url}")

    monkeypatch.setattr(outbound, "post", broken_post)  # a transport bug whose message quotes the URL
    delivery = _send_test(receiver.url + "/XXXXSECRETPATH")

    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.error == f"ValueError: could not post to {masked_url(receiver.url)}"
    assert "XXXXSECRETPATH" not in caplog.text
