"""The conformance run: gongji walks a vendor's till through cases, judges its traffic and writes the report."""

__all__: list[str] = []
