"""The customer portal: a requester reads their tickets and replies (docs/portal.md)."""
