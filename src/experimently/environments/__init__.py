"""Environments: development, staging, production and any an admin adds."""
