"""Safety: guardrail metrics watched after every aggregation, with an automatic pause on a breach."""
