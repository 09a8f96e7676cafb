"""Tests that commit for real get the unmanaged tables (samples, logs, events...) emptied after them,
whether they ask with the ``transactional_db`` fixture or the ``django_db(transaction=True)`` marker."""

import pytest

from config.tests.fixtures import is_transactional


@pytest.mark.parametrize(
    ("marker", "fixturenames", "commits"),
    [
        (pytest.mark.django_db(transaction=True), [], True),
        (pytest.mark.django_db(True), [], True),
        (pytest.mark.django_db(transaction=True, reset_sequences=True), [], True),
        (None, ["transactional_db"], True),
        (None, ["live_server"], True),
        (pytest.mark.django_db, ["transactional_db"], True),
        (pytest.mark.django_db, [], False),
        (pytest.mark.django_db(transaction=False), ["db"], False),
        (None, ["db"], False),
    ],
)
def test_a_test_that_commits_is_recognised_by_its_marker_or_its_fixtures(marker, fixturenames, commits):
    assert is_transactional(marker.mark if marker is not None else None, fixturenames) is commits
