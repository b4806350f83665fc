"""HTTP and websocket transport: translates requests into domain service calls."""
