"""Finance's side of the ledger: deposits, credit limits, charges, subsidies
and settlement, in integer fen on the same journal as the parts.

Imports run one way: the parts cycle calls money (the credit check at issue),
money reads the catalog (standard costs, locations) and the book; it knows
nothing of requisitions or shipments."""
