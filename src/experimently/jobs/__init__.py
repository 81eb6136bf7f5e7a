"""Background jobs under a lease: exactly one instance runs each job at a time."""
