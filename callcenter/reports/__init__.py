"""Historical reports: queue visits stored once, half-hour rollups, report queries.

Routing hands every finished queue visit to `writer.ReportWriter` (a direct hook, not
the event bus: with the Redis bus every process would see every visit and each would
write it). The writer stores the visit and adds it, and every change to a finished
call's handle time, to half-hour rollups, so a report sums a few rows per half hour
whatever the number of calls. The formulas are `callcenter.metrics`'.
"""
