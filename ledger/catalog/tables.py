"""Every table of the master-data modules, imported so that they join the one
metadata wherever the whole schema is needed (Alembic, the schema test)."""

from ledger.catalog import history, locations, parts, suppliers

__all__ = ["history", "locations", "parts", "suppliers"]
