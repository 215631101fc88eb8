"""Import: CSV/XLSX files into any model through the model API — the one
service behind ``keel import`` (:mod:`core.cli_data`), the web import screen
(:mod:`core.web.imports`) and ``POST /api/v1/data/MODEL/import``
(:mod:`core.api.imports`). See ``docs/import.md``.

* :mod:`.source` reads the file, :mod:`.columns` maps the header to fields,
  :mod:`.convert` turns cells into values (relations included),
  :mod:`.duplicates` finds duplicates by the model's keys, :mod:`.run` runs
  the import, :mod:`.report` words the problems and writes rejected rows.
"""
from . import run as run_module
from . import source
from .report import Problem, Reason, rejects, shown
from .run import BATCH, ON_DUPLICATE, ImportFailed, Result, run
from .source import ImportFileError, Table, read

__all__ = [
           "BATCH",
           "ON_DUPLICATE",
           "ImportFailed",
           "ImportFileError",
           "Problem",
           "Reason",
           "Result",
           "Table",
           "read",
           "rejects",
           "run",
           "run_module",
           "shown",
           "source",
]
