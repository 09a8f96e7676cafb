"""Every rule of the event evaluator, with seed 003's examples (judged without storage)."""

import pytest

from monitoring.event_rules import Baseline, evaluate


def test_the_seed_example_api_response_is_normal():
    verdict = evaluate({"response_time": 250, "status_code": 200, "output": "success"})
    assert (verdict.status, verdict.severity, verdict.decision) == ("NORMAL", 0.0, "CONTINUE")
    assert verdict.reasons == []


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("response_time", 6000, "Response time 6000ms exceeds the threshold of 5000ms"),
        ("cpu_usage", 95, "Cpu usage 95% exceeds the threshold of 90%"),
        ("memory_usage", 90, "Memory usage 90% exceeds the threshold of 85%"),
        ("error_rate", 15, "Error rate 15% exceeds the threshold of 10%"),
        ("latency", 3500, "Latency 3500ms exceeds the threshold of 3000ms"),
    ],
)
def test_a_threshold_violation_is_a_warning_with_its_reason(field, value, reason):
    verdict = evaluate({field: value})
    assert verdict.status == "WARNING"
    assert 0.7 <= verdict.severity < 0.9
    assert verdict.reasons == [reason]
    assert verdict.suggestions
    assert verdict.decision == "RETRY"


def test_values_at_the_threshold_are_normal():
    verdict = evaluate({"response_time": 5000, "cpu_usage": 90, "memory_usage": 85, "error_rate": 10, "latency": 3000})
    assert verdict.status == "NORMAL"


def test_twice_the_threshold_is_critical_and_escalated():
    verdict = evaluate({"response_time": 12000})
    assert verdict.status == "CRITICAL"
    assert verdict.severity >= 0.9
    assert verdict.decision == "ESCALATE"


def test_two_warnings_together_are_critical():
    verdict = evaluate({"cpu_usage": 92, "memory_usage": 88})
    assert verdict.status == "CRITICAL"
    assert len(verdict.reasons) == 2


def test_two_critical_findings_halt_the_system():
    verdict = evaluate({"response_time": 20000, "latency": 10000})
    assert verdict.decision == "HALT"


def test_thresholds_come_from_settings(settings):
    settings.EVENT_RESPONSE_TIME_MS = 1000
    assert evaluate({"response_time": 1500}).status == "WARNING"
    settings.EVENT_RESPONSE_TIME_MS = 2000
    assert evaluate({"response_time": 1500}).status == "NORMAL"


def test_warning_and_critical_levels_come_from_settings(settings):
    settings.CRITICAL_THRESHOLD = 0.75
    assert evaluate({"response_time": 7000}).status == "CRITICAL"  # severity 0.78


@pytest.mark.parametrize("output", [None, "", "null", []])
def test_null_or_empty_output_is_flagged(output):
    verdict = evaluate({"status_code": 200, "output": output})
    assert verdict.status == "WARNING"
    assert "Output is null or empty" in verdict.reasons
    assert verdict.decision == "REPROCESS"


def test_a_threshold_field_that_is_not_a_number_is_invalid_output():
    verdict = evaluate({"response_time": "fast"})
    assert verdict.reasons == ["response_time is not a number ('fast')"]
    assert verdict.decision == "REPROCESS"


def test_an_event_without_data_is_invalid():
    assert evaluate({}).reasons == ["Event carries no data"]


@pytest.mark.parametrize(
    "data",
    [
        {"status_code": 200, "error": "database unavailable"},
        {"status_code": 200, "output": "error"},
        {"status_code": "200", "success": False},
    ],
)
def test_status_200_with_an_error_body_is_inconsistent(data):
    verdict = evaluate(data)
    assert any(r.startswith("Inconsistent: status 200 with an error") for r in verdict.reasons)
    assert verdict.status in ("WARNING", "CRITICAL")


@pytest.mark.parametrize("data", [{"status_code": 503, "output": "success"}, {"status_code": 500, "success": True}])
def test_status_5xx_with_a_success_body_is_inconsistent(data):
    verdict = evaluate(data)
    assert any("with a success body" in r for r in verdict.reasons)
    assert verdict.decision in ("REPROCESS", "ESCALATE")


def test_success_with_a_null_result_is_a_silent_failure():
    verdict = evaluate({"status": "success", "result": None})
    assert verdict.reasons == ["Silent failure: success reported with a null result"]
    assert verdict.decision == "REPROCESS"


def test_processed_without_output_is_a_silent_failure():
    verdict = evaluate({"processed": True, "output": None})
    assert verdict.reasons == ["Silent failure: processed=true but no output"]


def test_completed_with_nothing_processed_is_a_silent_failure():
    verdict = evaluate({"completed": True, "items_processed": 0})
    assert verdict.reasons == ["Silent failure: completed=true but items_processed=0"]
    assert evaluate({"completed": True, "items_processed": 12}).status == "NORMAL"


def test_a_value_far_from_its_history_is_an_anomaly():
    history = {"items_returned": Baseline(count=100, mean=50.0, m2=99 * 4.0)}  # std 2
    assert evaluate({"items_returned": 55}, history).status == "NORMAL"  # z = 2.5
    verdict = evaluate({"items_returned": 58}, history)  # z = 4
    assert verdict.status == "WARNING"
    assert verdict.reasons[0].startswith("Anomaly: items_returned 58 is 4.0 standard deviations")
    assert verdict.decision == "CONTINUE"
    assert evaluate({"items_returned": 70}, history).status == "CRITICAL"  # z = 10


def test_a_short_history_judges_no_anomaly():
    assert evaluate({"items_returned": 1000}, {"items_returned": Baseline(5, 50.0, 10.0)}).status == "NORMAL"


def test_the_anomaly_z_score_comes_from_settings(settings):
    settings.EVENT_ANOMALY_Z_SCORE = 5
    history = {"items_returned": Baseline(count=100, mean=50.0, m2=99 * 4.0)}
    assert evaluate({"items_returned": 58}, history).status == "NORMAL"
