"""Suites against real external services, skipped unless their address is configured."""
