"""Experimently statistics engine: pure functions from sufficient statistics to frozen results.

No I/O, no exceptions on degenerate statistical input (results carry ``messages``), no NaN/Infinity.
See docs/statistics.md for every formula and convention.
"""

from experimently.stats.analyze import analyze_metric
from experimently.stats.experiment import analyze_experiment
from experimently.stats.model import (
    Alternative,
    ArmSummary,
    Comparison,
    Correction,
    DaysResult,
    Engine,
    ExperimentAnalysis,
    Interval,
    MdeResult,
    MessageCode,
    MetricAnalysis,
    MetricKind,
    MetricRole,
    MultipleTestingResult,
    PowerResult,
    Prior,
    Risk,
    SampleSizeResult,
    SrmResult,
    VariantStats,
    Verdict,
)
from experimently.stats.multiple import adjust_p_values
from experimently.stats.power import days_to_sample, mde, power, sample_size
from experimently.stats.ratio import winsorize_values
from experimently.stats.serialize import to_json_dict
from experimently.stats.srm import srm_check

__all__ = [
    "Alternative",
    "ArmSummary",
    "Comparison",
    "Correction",
    "DaysResult",
    "Engine",
    "ExperimentAnalysis",
    "Interval",
    "MdeResult",
    "MessageCode",
    "MetricAnalysis",
    "MetricKind",
    "MetricRole",
    "MultipleTestingResult",
    "PowerResult",
    "Prior",
    "Risk",
    "SampleSizeResult",
    "SrmResult",
    "VariantStats",
    "Verdict",
    "adjust_p_values",
    "analyze_experiment",
    "analyze_metric",
    "days_to_sample",
    "mde",
    "power",
    "sample_size",
    "srm_check",
    "to_json_dict",
    "winsorize_values",
]
