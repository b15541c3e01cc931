"""The households app's pages: ``household``, ``members``, ``village`` (the village archive),
``search`` and ``ledger`` (import and export)."""
