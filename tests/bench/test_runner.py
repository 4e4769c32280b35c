"""The benchmark runner's own logic: checks before timing, interleaved ratios, statistics, reports.

No database: the variants here burn a known number of microseconds, so ratios are predictable.
"""

import json
import time

import pytest

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


def workload(*variants, reference=None, teardown=None):
    return runner.Workload(
        name="w",
        description="d",
        reference=reference or runner.Variant("ref", busy(50), ok),
        variants=list(variants),
        teardown=teardown,
    )


def test_percentile_is_nearest_rank():
    values = sorted(float(v) for v in range(1, 101))
    assert runner.percentile(values, 95) == 95.0
    assert runner.percentile(values, 50) == 50.0
    assert runner.percentile(values, 100) == 100.0
    assert runner.percentile([7.0], 95) == 7.0


def test_the_summary_is_the_median_of_the_samples_and_the_p95_of_every_operation():
    result = runner.VariantResult("v", samples_us=[30.0, 10.0, 20.0], all_ops_us=[float(v) for v in range(100, 0, -1)])
    result.ratios = [2.0, 1.0, 4.0]
    summary = result.summary()
    assert summary["median_us"] == 20.0
    assert summary["p95_us"] == 95.0
    assert summary["throughput_ops_s"] == 50000.0
    assert summary["sample_medians_us"] == [30.0, 10.0, 20.0]
    assert summary["ratio"]["median"] == 2.0
    assert (summary["ratio"]["min"], summary["ratio"]["max"]) == (1.0, 4.0)


def test_a_slower_variant_has_a_ratio_above_one_and_every_round_counts():
    result = runner.run_workload(workload(runner.Variant("slow", busy(200), ok)), pairs=5, iterations=20, warmup=2)
    assert result["status"] == "ok"
    slow = result["variants"]["slow"]
    assert len(slow["sample_medians_us"]) == 5
    assert len(slow["ratio"]["per_round"]) == 5
    assert 2.5 < slow["ratio"]["median"] < 6
    assert slow["ratio"]["min"] <= slow["ratio"]["median"] <= slow["ratio"]["max"]
    assert "ratio" not in result["variants"]["ref"]


def test_rounds_are_interleaved_reference_first():
    calls: list[str] = []

    def recording(name):
        return runner.Variant(name, lambda: calls.append(name), ok)

    runner.run_workload(
        workload(recording("b"), recording("c"), reference=recording("a")), pairs=5, iterations=2, warmup=0
    )
    timed = calls[3:]  # after one checked call of each
    # Calls this short are noisy, so the rounds may have been run a second time, interleaved the same way.
    assert timed in (["a", "a", "b", "b", "c", "c"] * 5, ["a", "a", "b", "b", "c", "c"] * 10)


def test_the_rounds_are_repeated_only_when_the_reference_spread_is_over_the_limit():
    result = runner.run_workload(
        workload(runner.Variant("v", busy(300), ok), reference=runner.Variant("ref", busy(300), ok)),
        pairs=5,
        iterations=10,
        warmup=1,
    )
    first = result["noise"]["reference_spread"][0]
    assert result["noise"]["repeated"] == (first > runner.NOISY_SPREAD)
    assert result["noise"]["noisy"] == (min(result["noise"]["reference_spread"]) > runner.NOISY_SPREAD)


def test_a_reference_that_moves_between_rounds_is_repeated_then_marked_noisy():
    durations = iter([50, 500] * 1000)  # each round of the reference alternates between two speeds

    def moving():
        us = next(durations)
        for _ in range(10):  # one round's iterations all at that speed
            busy(us)()

    result = runner.run_workload(
        workload(runner.Variant("v", busy(100), ok), reference=runner.Variant("ref", moving, ok)),
        pairs=5,
        iterations=1,
        warmup=0,
    )
    assert result["status"] == "ok"
    assert result["noise"]["repeated"] is True
    assert len(result["noise"]["reference_spread"]) == 2
    assert result["noise"]["noisy"] is True
    assert "NOISY" in runner.markdown({"environment": {"date": "2026-01-01"}, "workloads": [result]})


def test_spread_is_the_range_over_the_median():
    assert runner.spread([10.0, 11.0, 12.0]) == pytest.approx(2 / 11)
    assert runner.spread([5.0]) == 0.0


def test_a_wrong_answer_reports_failed_not_a_number():
    def wrong(_value):
        raise runner.CheckFailed("expected 42")

    result = runner.run_workload(workload(runner.Variant("bad", busy(1), wrong)), pairs=5, iterations=5)
    assert result["status"] == "failed"
    assert "bad" in result["reason"]
    assert "expected 42" in result["reason"]
    assert "variants" not in result


def test_an_error_while_timing_fails_the_workload_and_still_tears_down():
    torn_down = []
    calls = iter(range(1000))

    def flaky():
        if next(calls) == 10:
            raise ConnectionError("server closed the connection")

    result = runner.run_workload(
        workload(runner.Variant("flaky", flaky, ok), teardown=lambda: torn_down.append(True)),
        pairs=5,
        iterations=5,
        warmup=0,
    )
    assert result["status"] == "failed"
    assert "server closed the connection" in result["reason"]
    assert torn_down == [True]


def test_fewer_than_five_rounds_are_refused():
    with pytest.raises(ValueError, match="at least 5"):
        runner.run_workload(workload(), pairs=4, iterations=1)


def test_the_markdown_report_has_a_row_per_variant_and_marks_failures(tmp_path):
    fetch = runner.Workload(
        name="fetch",
        description="d",
        reference=runner.Variant("a. raw", busy(10), ok),
        variants=[runner.Variant("b. orm", busy(20), ok)],
    )
    report = {
        "environment": {"date": "2026-01-01", "cpus": 2},
        "pairs": 5,
        "iterations": 5,
        "workloads": [
            runner.run_workload(fetch, pairs=5, iterations=5, warmup=1),
            runner.failed("broken", "d", "boom | bang"),
        ],
    }
    table = runner.markdown(report)
    assert "| workload | variant | median µs/op | p95 µs/op | throughput ops/s |" in table
    assert "reference spread" in table
    assert "| fetch | a. raw |" in table
    assert "| fetch | b. orm |" in table
    assert "reference" in table
    assert "| broken | — | failed: boom \\| bang |" in table

    report["environment"]["git"] = "abc1234567"
    path = runner.write(report, tmp_path / "results")
    assert path.name == "2026-01-01-abc1234567.md"
    assert path.read_text() == runner.markdown(report)
    assert (tmp_path / "results" / "latest.md").read_text() == path.read_text()
    stored = json.loads((tmp_path / "results" / "2026-01-01-abc1234567.json").read_text())
    assert stored["workloads"][0]["variants"]["b. orm"]["ratio"]["median"] > 1
    assert stored["workloads"][1]["status"] == "failed"


def test_a_report_written_before_the_last_workload_says_which_are_still_to_run():
    report = {"environment": {"date": "2026-01-01"}, "workloads": [runner.failed("w1", "d", "x")]}
    report["pending"] = ["w2", "w3"]
    assert "**Incomplete**: written before these workloads ran: w2, w3." in runner.markdown(report)
    report["pending"] = []
    assert "Incomplete" not in runner.markdown(report)


def test_a_batch_counts_its_operations_in_the_throughput_and_reports_request_percentiles():
    recorded: list[float] = []

    def batch():
        recorded.extend([100.0, 200.0, 300.0, 400.0])
        return busy(400)()

    def drain():
        out = recorded[:]
        recorded.clear()
        return out

    variant = runner.Variant("batch", batch, ok, ops_per_run=4, latencies=drain)
    result = runner.run_workload(workload(variant), pairs=5, iterations=3, warmup=1)
    summary = result["variants"]["batch"]
    assert summary["ops_per_run"] == 4
    assert summary["throughput_ops_s"] == pytest.approx(4_000_000 / summary["median_us"], rel=0.01)
    assert summary["request_us"]["count"] == 5 * 3 * 4  # the warm-up's requests were drained, not reported
    assert (summary["request_us"]["p50"], summary["request_us"]["p95"]) == (200.0, 400.0)
    text = runner.markdown({"environment": {"date": "d"}, "workloads": [result]})
    assert "| w | batch | 200.0 | 400.0 | 400.0 |" in text


def test_the_environment_names_the_machine_the_commit_and_the_lock_file():
    env = runner.environment({"postgresql": "15"})
    assert env["cpus"]
    assert env["cpu_model"]
    assert env["git"] != ""
    assert len(env["lock_sha256"]) == 16
    assert env["postgresql"] == "15"


def test_a_smoke_run_checks_every_side_once_and_times_nothing():
    calls: list[str] = []
    torn_down = []

    def recording(name):
        return runner.Variant(name, lambda: calls.append(name), ok)

    result = runner.run_smoke(
        workload(recording("b"), reference=recording("a"), teardown=lambda: torn_down.append(True))
    )
    assert result["status"] == "ok"
    assert result["kind"] == "outcome"
    assert calls == ["a", "b"]
    assert torn_down == [True]


def test_a_smoke_run_fails_on_a_wrong_answer():
    def wrong(_value):
        raise runner.CheckFailed("0 rows from the other tenant expected, saw 3")

    result = runner.run_smoke(workload(runner.Variant("bad", busy(1), wrong)))
    assert result["status"] == "failed"
    assert "saw 3" in result["reason"]


def test_a_workloads_notes_are_read_after_the_rounds_and_listed_under_the_table():
    seen: list[int] = []
    w = workload(runner.Variant("v", lambda: seen.append(1), ok))
    w.notes = lambda: [f"{len(seen)} calls in all"]
    result = runner.run_workload(w, pairs=5, iterations=3, warmup=0)
    assert result["notes"] == [f"{len(seen)} calls in all"]
    assert len(seen) >= 1 + 5 * 3
    assert f"- w: {len(seen)} calls in all" in runner.markdown(
        {"environment": {"date": "2026-01-01"}, "workloads": [result]}
    )


def test_a_variant_that_times_itself_is_counted_at_its_own_time_and_checked_on_its_answer():
    checked: list[object] = []

    def self_timed():
        busy(50)()
        return runner.Timed(answer="rows", elapsed_us=5000.0)

    w = workload(runner.Variant("timed", self_timed, checked.append))
    result = runner.run_workload(w, pairs=5, iterations=3, warmup=0)
    assert result["status"] == "ok"
    assert checked == ["rows"]
    assert result["variants"]["timed"]["median_us"] == 5000.0
    assert result["variants"]["timed"]["ratio"]["median"] > 10
    smoke = runner.run_smoke(w)
    assert smoke["status"] == "ok"
    assert checked == ["rows", "rows"]


def test_a_self_timed_variant_with_a_wrong_answer_reports_failed():
    def wrong(answer):
        raise runner.CheckFailed(f"saw {answer}")

    w = workload(runner.Variant("timed", lambda: runner.Timed(answer="nothing", elapsed_us=1.0), wrong))
    result = runner.run_workload(w, pairs=5, iterations=3, warmup=0)
    assert result["status"] == "failed"
    assert "saw nothing" in result["reason"]


def test_an_outcomes_figures_are_listed_under_the_outcomes_table():
    held = runner.Outcome("day", "d", lambda: {"trials": 3, "detail": "3 users", "notes": ["step a: p95 4.0 ms"]})
    broken = runner.Outcome("other", "d", lambda: (_ for _ in ()).throw(runner.CheckFailed("2 errors")))
    text = runner.markdown(
        {"environment": {"date": "d"}, "workloads": [runner.run_outcome(held), runner.run_outcome(broken)]}
    )
    assert "| day | passed | 3 | 3 users |" in text
    assert "| other | FAILED | | CheckFailed: 2 errors |" in text
    assert text.index("| other | FAILED") < text.index("- day: step a: p95 4.0 ms")
