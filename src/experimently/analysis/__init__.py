"""Analysis endpoints on the pure statistics engine: results, compute from sufficient statistics, power."""
