"""Benchmarks (`make bench`): they print numbers; the test suite never times anything."""
