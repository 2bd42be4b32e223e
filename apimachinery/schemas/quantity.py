"""resource.Quantity for the schemas; the parser lives in apimachinery.quantity.

Why a re-export: controllers and kctl parse quantities without importing pydantic and every schema (this
package's ``__init__`` does), so the one home is outside the package; the schemas keep their name.
"""

from apimachinery.quantity import FORMAT_WRONG, SUFFIX_WRONG, QuantityError, canonical, from_number

__all__ = ["FORMAT_WRONG", "SUFFIX_WRONG", "QuantityError", "canonical", "from_number"]
