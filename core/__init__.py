"""Keel kernel.

Importing ``core`` opens no database and reads no environment: everything is
built by explicit calls (``core.db.Database``, ``core.app.create_app``).
"""
import pluggy

__version__ = "0.1.0"

#: Marker for addon hook implementations: ``@hookimpl def keel_models(): ...``
hookimpl = pluggy.HookimplMarker("keel")

__all__ = ["__version__", "hookimpl"]
