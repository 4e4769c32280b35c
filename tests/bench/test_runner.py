"""The benchmark runner's own logic: checks before timing, interleaved ratios, statistics, reports."""

import time

from bench import runner


def busy(us: int):
    def run():
        end = time.perf_counter_ns() + us * 1000
        while time.perf_counter_ns() < end:
            pass
        return us

    return run


def ok(_value):
    return None


def test_percentile_is_nearest_rank():
    values = sorted(float(v) for v in range(1, 101))
    assert runner.percentile(values, 95) == 95.0
    assert runner.percentile(values, 50) == 50.0
    assert runner.percentile([7.0], 95) == 7.0


def test_a_slower_variant_has_a_ratio_above_one_and_every_round_counts():
    workload = runner.Workload(
        name="w",
        description="d",
        reference=runner.Variant("ref", busy(50), ok),
        variants=[runner.Variant("slow", busy(200), ok)],
    )
    result = runner.run_workload(workload, pairs=5, iterations=20, warmup=2)
    assert result["status"] == "ok"
    slow = result["variants"]["slow"]
    assert len(slow["round_medians_us"]) == 5
    assert 2.5 < slow["ratio"]["median"] < 6
    assert slow["ratio"]["min"] <= slow["ratio"]["median"] <= slow["ratio"]["max"]
    assert "ratio" not in result["variants"]["ref"]


def test_a_wrong_answer_reports_failed_not_a_number():
    def wrong(_value):
        raise runner.CheckFailed("expected 42")

    workload = runner.Workload(
        name="w",
        description="d",
        reference=runner.Variant("ref", busy(1), ok),
        variants=[runner.Variant("bad", busy(1), wrong)],
    )
    result = runner.run_workload(workload, pairs=5, iterations=5)
    assert result["status"] == "failed"
    assert "expected 42" in result["reason"]
    assert "variants" not in result


def test_the_markdown_report_has_a_row_per_variant_and_marks_failures():
    workload = runner.Workload(
        name="fetch",
        description="d",
        reference=runner.Variant("a. raw", busy(10), ok),
        variants=[runner.Variant("b. orm", busy(20), ok)],
    )
    report = {
        "environment": {"date": "2026-01-01", "cpus": 2},
        "workloads": [
            runner.run_workload(workload, pairs=5, iterations=5, warmup=1),
            {"workload": "broken", "status": "failed", "reason": "boom"},
        ],
    }
    table = runner.markdown(report)
    assert "| fetch | a. raw |" in table
    assert "| fetch | b. orm |" in table
    assert "reference" in table
    assert "| broken | — | failed: boom |" in table
