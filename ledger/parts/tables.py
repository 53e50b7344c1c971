"""Every table of the parts-cycle modules, imported so that they join the one
metadata wherever the whole schema is needed (Alembic, the schema test)."""

from ledger.parts import (
    counts,
    documents,
    factory,
    purchasing,
    repairs,
    requisitions,
    shipments,
)

__all__ = ["counts", "documents", "factory", "purchasing", "repairs", "requisitions", "shipments"]
