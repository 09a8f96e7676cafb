"""collectd's write_http plugin (Format "JSON") posts value lists to /api/v1/collectd."""

import time

import orjson
import pytest

from monitoring.models import Sample, Series
from servers.models import Server

pytestmark = pytest.mark.django_db

PATH = "/api/v1/collectd"


def value_list(**overrides) -> dict:
    """One value list as collectd 5 writes it."""
    data = {
        "values": [42.5],
        "dstypes": ["gauge"],
        "dsnames": ["value"],
        "time": round(time.time(), 3),
        "interval": 10.0,
        "host": "db-03",
        "plugin": "cpu",
        "plugin_instance": "0",
        "type": "percent",
        "type_instance": "user",
    }
    data.update(overrides)
    return data


def post(client, token, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(PATH, data=data, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_collectd_value_lists_become_series_of_their_host(client, fleet_token):
    now = round(time.time(), 3)
    body = [
        value_list(time=now),
        value_list(
            values=[1000, 2000],
            dstypes=["derive", "derive"],
            dsnames=["rx", "tx"],
            plugin="interface",
            plugin_instance="eth0",
            type="if_octets",
            type_instance="",
            time=now,
        ),
        value_list(values=[0.7], plugin="load", plugin_instance="", type="load", type_instance="", time=now),
    ]
    response = post(client, fleet_token, body)
    assert response.status_code == 200
    assert response.json()["samples"] == 4
    server = Server.objects.get(hostname="db-03")
    cpu = Series.objects.get(server=server, metric_type="collectd", name="cpu.percent")
    assert cpu.labels == {"plugin_instance": "0", "type_instance": "user"}
    assert Sample.objects.get(series=cpu).value == 42.5
    rx = Series.objects.get(server=server, name="interface.if_octets.rx")
    assert rx.labels == {"plugin_instance": "eth0"}
    assert Series.objects.get(server=server, name="load.load").labels == {}
    assert abs(Sample.objects.get(series=rx).ts.timestamp() - now) < 0.001


def test_a_null_value_is_a_missing_gauge_not_an_error(client, fleet_token):
    body = [value_list(values=[None, 3.0], dstypes=["gauge", "gauge"], dsnames=["shortterm", "midterm"])]
    response = post(client, fleet_token, body)
    assert response.status_code == 200
    assert [s.series.name for s in Sample.objects.select_related("series")] == ["cpu.percent.midterm"]


def test_an_agent_token_writes_for_its_own_server_even_without_host(client, agent_token, web01):
    body = [value_list(host=None)]
    assert post(client, agent_token, body).status_code == 200
    assert Series.objects.get().server_id == web01.id


def test_a_body_that_is_not_json_is_a_400(client, fleet_token):
    response = post(client, fleet_token, b"PUTVAL db-03/cpu-0/percent-user N:42")
    assert response.status_code == 400


def test_a_body_that_is_not_an_array_is_a_400(client, fleet_token):
    response = post(client, fleet_token, value_list())
    assert response.status_code == 400


def test_mismatched_values_and_dsnames_are_a_400_naming_the_field(client, fleet_token):
    response = post(client, fleet_token, [value_list(), value_list(values=[1, 2])])
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "[1].values"
    assert Sample.objects.count() == 0


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"values": ["42"]}, "[0].values[0]"),
        ({"values": [True]}, "[0].values[0]"),
        ({"dstypes": ["histogram"]}, "[0].dstypes[0]"),
        ({"plugin": ""}, "[0].plugin"),
        ({"host": 7}, "[0].host"),
        ({"time": "yesterday"}, "[0].time"),
        ({"time": time.time() + 10 * 86400}, "[0].time"),
    ],
)
def test_each_bad_field_is_a_400_naming_it(client, fleet_token, overrides, field):
    response = post(client, fleet_token, [value_list(**overrides)])
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


def test_the_command_format_is_a_415(client, fleet_token):
    response = post(client, fleet_token, b"PUTVAL db-03/cpu-0/percent-user N:42", content_type="text/plain")
    assert response.status_code == 415


def test_without_a_token_is_a_401(client):
    response = client.post(PATH, data=orjson.dumps([value_list()]), content_type="application/json")
    assert response.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_database_is_a_503_even_while_registering(client, fleet_token, unreachable_database):
    assert post(client, fleet_token, [value_list(host="db-03")]).status_code == 200  # the token is now cached
    with unreachable_database():
        stored = post(client, fleet_token, [value_list(host="db-03", time=round(time.time(), 3) + 1)])
        new_host = post(client, fleet_token, [value_list(host="db-04")])  # registering needs the database
    for response in (stored, new_host):
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
    assert post(client, fleet_token, [value_list(host="db-04")]).status_code == 200
