"""Encryption at rest: the key ring, the registry of encrypted columns, and their re-encryption."""
