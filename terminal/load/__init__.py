"""Load and benchmarks: simulated fleets, population, runs, figures, child processes, the echo floor."""
