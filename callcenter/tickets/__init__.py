"""Tickets' SLAs as pure logic: business-hours calendars (`calendars.py`) and the SLA
clocks computed from a ticket's history (`sla.py`). The tickets' tables, API and the
scheduler that emits warnings and breaches come later; docs/sla.md explains the rules.
"""
