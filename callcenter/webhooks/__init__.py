"""Webhooks: signed HTTP deliveries of events, retried, with a dead-letter list."""
