"""The wire: every message's model (inputs, outputs, events), the envelope, topics and the glossary."""
