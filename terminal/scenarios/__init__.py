"""Scenarios: the YAML format, its runner, targets, report, the CLI commands and the pytest plugin."""
