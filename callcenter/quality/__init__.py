"""Quality review (质检): scorecards, scored reviews of calls, per-agent summaries."""
