"""People and applications: users, tokens, API keys, OIDC."""
