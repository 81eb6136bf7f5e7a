"""The metrics domain's privacy provider: the experiment statistics.

The statistics keep no per-unit rows, but they hold each exposed unit's contribution; erasure
retracts it (computed from the raw events) before the raw events themselves are erased, so this
provider runs first (``order=-1``).
"""

from __future__ import annotations

from experimently.metrics.aggregation import retract_unit, unit_contributions
from experimently.privacy import PrivacyProvider

STATISTICS_PROVIDER = PrivacyProvider("experiment_statistics", unit_contributions, retract_unit, order=-1)
