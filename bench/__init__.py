"""PHB benchmarks: each workload timed against a reference measured in the same run, interleaved."""
