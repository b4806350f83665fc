"""Who may do what: users, roles and permissions, sessions and API tokens, the audit log.

The domain lives in `service.AuthService`; `api/` only translates HTTP to its calls.
"""
