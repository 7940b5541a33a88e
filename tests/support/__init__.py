"""Test support: real brokers on 127.0.0.1, the switch in-process or as a subprocess."""
