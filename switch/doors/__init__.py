"""Doors: the transports that carry requests to the service and answers back (MQTT, its broker, access)."""
