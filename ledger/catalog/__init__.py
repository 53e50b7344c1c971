"""Master data: parts and their prices, handset models, suppliers, locations
and approval levels. Built on the book (ledger/ core): a part is a commodity,
a location is a holder; the book knows nothing of this package."""
