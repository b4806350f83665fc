"""Ticket mail: replies out through an SMTP smarthost, customers' mail in through our own
SMTP receiver (docs/email.md)."""
