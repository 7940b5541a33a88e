"""Clients of the switch: POS terminals, the member app and the operator, over MQTT."""
