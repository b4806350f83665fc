"""The floor in real time: the metrics aggregator and the wallboard it feeds."""
