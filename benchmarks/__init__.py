"""Runnable benchmark harnesses (tables to stdout, JSON under results/)."""
