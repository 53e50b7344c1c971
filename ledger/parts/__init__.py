"""The parts cycle: documents (requisitions, purchase orders, shipments,
discrepancies) whose every action commits its new state and its journal entry
together, and the stock views that read what they moved."""
