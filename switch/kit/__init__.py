"""The vendor kit: the AsyncAPI document, JSON Schemas, the reference page and its recorded examples."""
