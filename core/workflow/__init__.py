"""Workflow state matrices (issue 4, point 2; docs/workflows.md).

A model with a workflow has a *state field* whose value changes only
through *actions* (transitions). The matrix — states, transitions, field
modes per state, triggers — is data in the kernel's workflow models
(``core/base/workflow_models.py``), seeded by addons through
``keel_workflows`` and changed by admins and templates.

Modules:

* :mod:`.matrix` — loading and caching a model's matrix;
* :mod:`.engine` — ``records.action(name)`` and ``records.allowed_actions()``:
  the checks, the approval gate and the transition itself;
* :mod:`.rules` — what the workflow means for create, write and read;
* :mod:`.triggers` — what a transition does besides moving the state;
* :mod:`.data` — the format addons and templates use, loaded as rows.

The model API (``core.orm.recordset``) calls in here; nothing else writes a
state field.
"""
from .engine import Outcome, allowed_actions, gate, may_run, run, run_transition
from .matrix import WORKFLOW_MODELS, Matrix, changed, matrices, matrix

__all__ = ["Outcome", "allowed_actions", "gate", "may_run", "run", "run_transition",
           "WORKFLOW_MODELS", "Matrix", "changed", "matrices", "matrix"]
