"""Customers: one profile across phone numbers, emails and chat identities."""
