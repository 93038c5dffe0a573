"""People and integrations: accounts, roles, sessions, API tokens, and the checks every route makes."""
