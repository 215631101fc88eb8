"""The opportunity pipeline (CONTRACT.md §6), shipped as data.

``new`` -qualify-> ``qualified`` -propose-> ``proposal`` -negotiate->
``negotiation`` -win-> ``won``; ``lose`` from any open stage to ``lost``;
``reopen`` from ``lost`` to
``new``. Every transition runs the hook trigger ``crm.stage_changed``
(forecast.py): a stage-history row, ``stage_changed_at`` and the new
stage's default probability (``crm.stage``: winning 100, losing 0); losing
needs a lost reason; a won deal's amount and customer are read-only. As shipped every CRM role may run every transition on the records
it may write; templates and admins restrict (``roles``), add conditions,
required fields and field modes.
"""
from core.i18n import _

OPEN = ["new", "qualified", "proposal", "negotiation"]
#: run by every transition: history, stage time, stage probability (forecast.py)
STAGE_CHANGED = {"kind": "hook", "name": "crm.stage_changed"}

OPPORTUNITY_WORKFLOW = {
    "model": "crm.opportunity",
    "field": "stage",
    "states": [
        {"code": "new", "label": _("New"), "sequence": 10},
        {"code": "qualified", "label": _("Qualified"), "sequence": 20},
        {"code": "proposal", "label": _("Proposal"), "sequence": 30},
        {"code": "negotiation", "label": _("Negotiation"), "sequence": 40},
        {"code": "won", "label": _("Won"), "sequence": 50, "terminal": True},
        {"code": "lost", "label": _("Lost"), "sequence": 60, "terminal": True, "folded": True},
    ],
    "transitions": [
        {"action": "qualify", "label": _("Qualify"), "from": ["new"], "to": "qualified",
         "triggers": [STAGE_CHANGED]},
        {"action": "propose", "label": _("Send proposal"), "from": ["qualified"], "to": "proposal",
         "triggers": [STAGE_CHANGED]},
        {"action": "negotiate", "label": _("Negotiate"), "from": ["proposal"], "to": "negotiation",
         "triggers": [STAGE_CHANGED]},
        {"action": "win", "label": _("Mark won"), "from": ["negotiation"], "to": "won",
         "triggers": [STAGE_CHANGED]},
        {"action": "lose", "label": _("Mark lost"), "from": OPEN, "to": "lost",
         "required": ["lost_reason"], "triggers": [STAGE_CHANGED]},
        {"action": "reopen", "label": _("Reopen"), "from": ["lost"], "to": "new",
         "triggers": [STAGE_CHANGED]},
    ],
    # a won deal keeps the amount and customer it was won with
    "field_modes": {"won": {"amount": "readonly", "customer_id": "readonly"}},
}
