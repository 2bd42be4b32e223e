"""metav1.Time and MicroTime for the schemas; the codec lives in apimachinery.timestamps.

Why a re-export: controllers and kctl read and write times without importing pydantic and every schema
(this package's ``__init__`` does), so the one home is outside the package; the schemas keep their name.
"""

from apimachinery.timestamps import RFC3339, RFC3339_MICRO, TimeError, normalize_micro_time, normalize_time

__all__ = ["RFC3339", "RFC3339_MICRO", "TimeError", "normalize_micro_time", "normalize_time"]
