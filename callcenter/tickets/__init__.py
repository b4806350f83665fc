"""Tickets (docs/tickets.md): groups, tickets, their status table, history and comments;
and their SLAs as pure logic, business-hours calendars (`calendars.py`) and the SLA
clocks computed from a ticket's history (`sla.py`, docs/sla.md), not wired to tickets yet.
"""
