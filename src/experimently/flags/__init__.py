"""Feature flags: CRUD, per-environment targeting, kill switch, evaluation, rollout schedules."""
