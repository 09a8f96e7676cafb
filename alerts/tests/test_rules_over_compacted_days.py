"""Alert windows and evidence packs that reach into compacted days see the same samples as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.analysis.evidence import Window, series_summaries
from alerts.choices import RuleKind
from alerts.evaluation import observe
from alerts.models import AlertRule
from config.tests.fixtures import write_series
from monitoring import upkeep
from servers.models import Server

pytestmark = pytest.mark.django_db

# a day long closed, and an instant just after it: windows reach back across midnight
DAY = datetime(2025, 11, 20, tzinfo=UTC)
AT = DAY + timedelta(days=1, minutes=3)


@pytest.fixture
def fleet(db):
    servers = [Server.objects.create(hostname=f"web-{i:02d}") for i in range(3)]
    for i, server in enumerate(servers):
        points = [
            (DAY + timedelta(hours=20, seconds=10 * t), round(50 + i * 10 + (t * 7 % 13) * 0.37, 2))
            for t in range(1800)
        ]
        points.append((AT - timedelta(seconds=30), 99.0 - i))  # today: after midnight, never compacted
        write_series(server, "system", "cpu_usage", points)
    return servers


def _rules() -> list[AlertRule]:
    common = {"metric_type": "system", "metric_name": "cpu_usage", "threshold": 60}
    return [
        AlertRule.objects.create(name=f"t {agg}", aggregate=agg, window_seconds=4 * 3600, **common)
        for agg in ("avg", "min", "max", "sum", "count", "last")
    ] + [
        AlertRule.objects.create(
            name="z", kind=RuleKind.ANOMALY, window_seconds=600, trailing_seconds=3 * 3600, **common
        ),
        AlertRule.objects.create(name="quiet", kind=RuleKind.ABSENCE, window_seconds=3600, **common),
    ]


def _observed(rules: list[AlertRule]) -> list:
    return [sorted((str(o.server_id), o.value) for o in observe(rule, AT)) for rule in rules]


def test_rule_windows_over_a_compacted_day_observe_the_same_values(fleet):
    rules = _rules()
    before = _observed(rules)
    assert all(before)
    report = upkeep.upkeep(now=AT + timedelta(hours=2))
    assert report.compaction.days and report.compaction.days[0].samples == 3 * 1440  # 20:00 to midnight
    after = _observed(rules)
    # the same samples; a sum may be added up in another order by another plan: equal to the last bit or two
    for rule, old, new in zip(rules, before, after, strict=True):
        assert [server for server, _ in new] == [server for server, _ in old], rule.name
        assert [value for _, value in new] == pytest.approx([value for _, value in old], rel=1e-13), rule.name


def test_the_evidence_pack_of_a_window_in_a_compacted_day_is_unchanged(fleet):
    windows = [
        Window(start=DAY + timedelta(hours=22), end=DAY + timedelta(hours=23)),
        Window(start=DAY + timedelta(hours=23, minutes=50), end=AT, server_ids=[str(fleet[1].id)]),
    ]
    before = [series_summaries(w) for w in windows]
    assert all(before)
    upkeep.upkeep(now=AT + timedelta(hours=2))
    assert [series_summaries(w) for w in windows] == before
