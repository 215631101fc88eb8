"""The model API: environments, recordsets, domains, grouping."""
from .env import Env
from .recordset import Recordset

__all__ = ["Env", "Recordset"]
