"""Excel/CSV import and export of the household ledger (户籍台账 / 民情档案台账).

- ``columns``: the ledger's columns and the words it uses for choices
- ``reader``: file checks and reading .xlsx/.csv into rows
- ``planner``: row and cross-row checks, matching against the archive, the import plan
- ``importer``: check (keeps the file and report) and import (one transaction)
- ``exporter``: masked/unmasked export of a subtree, and the template
- ``storage``: the sealed uploaded files under ``DATA_DIR/imports``
"""
