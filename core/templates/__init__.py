"""Templates: a database's customization as one YAML file (CONTRACT.md §4).

A template holds user-defined fields, roles with their permissions and
scopes, sequence patterns, workflow matrices and approval policies. Addons
ship templates in their ``templates/`` folder (``keel template list``);
``keel template apply`` applies one — idempotent and all or nothing — and
``keel template export`` writes a database's whole customization as one.

* :mod:`.source` finds and loads templates (an addon's, or a file);
* :mod:`.check` refuses a bad template naming the key path and the reason
  (``approvals[0].levels[1].approvers.role: unknown role 'x'``) before
  anything is written;
* :mod:`.apply` applies a checked template in one transaction through the
  kernel's services (user-defined fields, roles, sequences, workflows,
  approvals), so access rules and the audit log apply as for any change;
* :mod:`.export` writes the customization back, deterministically.
"""
from .apply import apply
from .check import TemplateError
from .export import export
from .source import find_templates, load

__all__ = ["TemplateError", "apply", "export", "find_templates", "load"]
