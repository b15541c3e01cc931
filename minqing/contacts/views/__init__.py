"""Contact-network pages, one module per subject: ``liaisons`` (a place's liaisons, a
household's people set by hand), ``runs`` (assignment runs), ``rules`` (the county's rules),
``ledger`` (the ledger, its Excel file, the coverage report) and ``cards`` (contact cards)."""
