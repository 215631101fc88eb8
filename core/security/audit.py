"""The audit log: who changed what, when, from where.

The model API calls these functions; ``core.audit`` itself cannot be
written through the model API by anyone. Entries are inserted with Core
in one executemany per operation.
"""


def record_create(env, meta, ids, rows):
    """After ``ids`` of ``meta`` were inserted with the value dicts ``rows``."""


def record_write(env, meta, ids, old, new):
    """After ``ids`` were updated: ``old`` and ``new`` map each id to the
    changed columns' values before and after (computed fields included)."""


def record_unlink(env, meta, ids):
    """After ``ids`` were deleted."""


def fields_to_read(meta, values):
    """The stored columns whose old values a write of ``values`` must keep."""
    return [name for name in values if meta.fields[name].column]
