"""Kinds that exist only when JOBS_TEST_KINDS is true: they fail, flake, sleep or report
progress on demand, so the tests and the benchmark can drive every path of the lifecycle."""
