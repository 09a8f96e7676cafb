"""Several applications submit events for one source at once: the running statistics lose no value."""

import statistics
import threading

import pytest
from django.db import connection

from monitoring import events
from monitoring.models import Event, FieldStats


@pytest.mark.django_db(transaction=True)
def test_concurrent_events_fold_every_value_into_the_history():
    values = [[100 + (t * 25 + i) % 17 for i in range(25)] for t in range(4)]
    errors = []

    def submit(mine):
        try:
            for value in mine:
                events.record(events.Submitted("concurrent-source", "api_response", {"response_time": value}))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(mine,)) for mine in values]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        everything = [v for mine in values for v in mine]
        stats = FieldStats.objects.get(source="concurrent-source", field="response_time")
        assert stats.count == len(everything) == 100
        assert stats.mean == pytest.approx(statistics.mean(everything))
        assert stats.std == pytest.approx(statistics.stdev(everything))
        assert Event.objects.filter(source="concurrent-source").count() == 100
    finally:
        Event.objects.filter(source="concurrent-source").delete()
