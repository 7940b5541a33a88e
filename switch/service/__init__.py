"""The service: idempotency, dispatch to the core, group commit, faults, the clock and the heap policy."""
