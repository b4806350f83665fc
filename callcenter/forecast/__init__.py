"""Forecast and staffing: the calls expected per half hour, and the agents they need.

`erlang.py` is the queueing model, `history.py` the interface to past volumes (with
`calls_history.py` its implementation over the call records), `model.py` the seasonal
forecast and `staffing.py` puts them together for one queue and day. docs/forecast.md
explains the method and its limits.
"""
