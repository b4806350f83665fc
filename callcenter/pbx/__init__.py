"""Everything that speaks to Asterisk: local sandbox, config rendering, carrier simulator."""
