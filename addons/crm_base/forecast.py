"""Opportunities: probability by stage, stage history, the predicted win
probability and the pipeline reports (docs/pipeline.md).

* **Probability by stage** — ``crm.stage`` holds each stage's default
  probability (data an admin changes). A transition sets the opportunity's
  probability to the new stage's default, unless the user set it by hand on
  that stage (``probability_stage`` remembers the stage a hand-set value
  belongs to). Changing a stage's default moves the open opportunities of
  that stage that were not set by hand.
* **Stage history** — every transition writes a ``crm.stage_history`` row
  (from, to, at, by, days in the previous stage) through the workflow
  trigger ``{"kind": "hook", "name": "crm.stage_changed"}`` (workflow.py);
  ``stage_changed_at`` is the moment of the last transition.
* **Weighted amount** — ``weighted_amount`` = amount × probability / 100,
  a stored computed field kept by the model API, so that reports can sum
  it (a ``read_group`` measure is one field).
* **Predicted win probability** — learnt from the company's own won and
  lost opportunities (``pipeline_predict.py``).
"""
import decimal

from core import fields as F
from core.i18n import _
from core.models import Extend, Model

from . import pipeline_predict as predict
from .models import STAGES
from .workflow import OPEN

#: the probabilities shipped for each stage; an admin changes them in crm.stage
DEFAULT_PROBABILITY = {"new": 10, "qualified": 20, "proposal": 40, "negotiation": 60, "won": 100,
                       "lost": 0}
#: context key of the pipeline's own writes (not a user setting a probability by hand)
SYSTEM = predict.SYSTEM
#: the workflow trigger that records a transition
TRIGGER = "crm.stage_changed"
CENT = decimal.Decimal("0.01")


def _weighted(row):
    amount, probability = row.get("amount"), row.get("probability")
    if amount is None:
        return None
    return (decimal.Decimal(amount) * decimal.Decimal(probability or 0) / 100).quantize(CENT)


def models():
    return [
        Model("crm.stage", _("Opportunity stage"), order="sequence, id", rec_name="code",
              trash=False, fields={
                  "code": F.Selection(_("Stage"), options=STAGES, required=True, unique=True),
                  "sequence": F.Integer(_("Sequence"), default=10),
                  "probability": F.Integer(_("Default probability (%)"), required=True,
                                           help=_("Set on an opportunity when it enters the stage, "
                                                  "unless the user set a probability by hand there")),
              }),
        Model("crm.stage_history", _("Stage history"), order="at desc, id desc",
              access_parent="opportunity_id", trash=False, fields={
                  "opportunity_id": F.Many2one("crm.opportunity", _("Opportunity"), required=True,
                                               ondelete="cascade", index=True),
                  "action": F.Char(_("Action")),
                  "from_stage": F.Selection(_("From stage"), options=STAGES),
                  "to_stage": F.Selection(_("To stage"), options=STAGES, index=True),
                  "at": F.Datetime(_("Time"), index=True),
                  "by_id": F.Many2one("core.user", _("By")),
                  "days": F.Float(_("Days in previous stage")),
                  "won_pct": F.Integer(_("Won (%)"), help=_(
                      "100 once the opportunity is won, 0 once it is lost: its average is a win rate")),
              }),
        Extend("crm.opportunity", attrs={"probability": {"default": None}}, fields={
            "probability_stage": F.Selection(
                _("Probability set by hand on"), options=STAGES, readonly=True,
                help=_("The stage on which the probability was set by hand; empty: the stage default")),
            "predicted_probability": F.Integer(
                _("Predicted win probability (%)"), readonly=True,
                help=_("Learnt from your company's won and lost opportunities, rebuilt nightly")),
            "weighted_amount": F.Decimal(_("Weighted amount"), digits=18, scale=2, readonly=True,
                                         compute=_weighted, depends=("amount", "probability"),
                                         help=_("Amount × probability")),
            "amount_band": F.Selection(_("Amount band"), options=predict.BANDS, readonly=True,
                                       compute=predict.band_of, depends=("amount",)),
            "competitors": F.Char(_("Competitors"), help=_("Competing vendors, separated by commas")),
            "stage_changed_at": F.Datetime(_("Stage changed at"), readonly=True),
            "won_pct": F.Integer(_("Won (%)"), readonly=True, help=_(
                "100 when won, 0 when lost, empty while open: its average is a win rate")),
            "stage_history_ids": F.One2many("crm.stage_history", "opportunity_id", _("Stage history")),
        }),
    ] + predict.models()


def data():
    # only the key and order: the probabilities are filled on create
    # (before_create) and an admin's changes survive upgrades
    return [{"model": "crm.stage", "key": "code",
             "records": [{"code": code, "sequence": 10 * (i + 1)} for i, (code, _l) in enumerate(STAGES)]}]


def roles():
    # CRM users read the stage probabilities, win statistics and contact
    # cycles (administrators change them) and the history of what they see
    shared = ("crm.stage", "crm.win_stat", "crm.contact_cycle")
    out = {}
    for role, scope in (("sales_rep", "own"), ("sales_manager", "department_tree"),
                        ("sales_director", "all")):
        out[role] = {"permissions": {"crm.stage_history": ["read", "export"],
                                     **{m: ["read"] for m in shared}},
                     "scopes": {"crm.stage_history": scope, **{m: "all" for m in shared}}}
    return out


def menus():
    return [
        {"key": "crm.stages", "label": _("Stage probabilities"), "parent": "crm.config", "model": "crm.stage",
         "sequence": 30},
        {"key": "crm.win_stats", "label": _("Win statistics"), "parent": "crm.config", "model": "crm.win_stat",
         "sequence": 60},
    ]


def views():
    return [
        {"key": "crm.stage.list", "model": "crm.stage", "type": "list",
         "arch": {"fields": ["sequence", "code", "probability"]}},
        {"key": "crm.stage_history.list", "model": "crm.stage_history", "type": "list",
         "arch": {"fields": ["at", "opportunity_id", "from_stage", "to_stage", "days", "by_id"]}},
        {"key": "crm.win_stat.list", "model": "crm.win_stat", "type": "list",
         "arch": {"fields": ["feature", "value", "label", "won", "lost", "rate"]}},
    ]


def jobs():
    return [{"key": "crm.win_stats", "label": _("Rebuild win statistics and predicted probabilities"),
             "function": "addons.crm_base.pipeline_predict:nightly", "cron": "30 1 * * *"}]


def reports():
    open_ = [["stage", "in", OPEN]]
    closed = [["stage", "in", ["won", "lost"]]]
    return [
        {"key": "crm.weighted_pipeline", "label": _("Weighted pipeline"), "model": "crm.opportunity",
         "dimensions": ["stage"], "measures": ["count", "amount:sum", "weighted_amount:sum"],
         "domain": open_, "chart": "funnel", "sequence": 41,
         "description": _("Open opportunities per stage: amount and amount × probability")},
        {"key": "crm.weighted_pipeline_by_owner", "label": _("Weighted pipeline per owner"),
         "model": "crm.opportunity", "dimensions": ["owner_id"],
         "measures": ["count", "amount:sum", "weighted_amount:sum"], "domain": open_, "chart": "bar",
         "sequence": 42},
        {"key": "crm.expected_close", "label": _("Expected close by month"), "model": "crm.opportunity",
         "dimensions": ["expected_close:month"],
         "measures": ["count", "amount:sum", "weighted_amount:sum"], "domain": open_, "chart": "bar",
         "date_field": "expected_close", "period": "all", "sequence": 43,
         "description": _("Open opportunities by the month they are expected to close")},
        {"key": "crm.time_in_stage", "label": _("Average time in stage"), "model": "crm.stage_history",
         "dimensions": ["from_stage"], "measures": ["days:avg", "days:max", "count"], "chart": "bar",
         "date_field": "at", "period": "all", "sequence": 44,
         "description": _("Days opportunities spent in each stage before they left it")},
        {"key": "crm.win_rate_by_stage", "label": _("Win rate per stage reached"),
         "model": "crm.stage_history", "dimensions": ["to_stage"], "measures": ["won_pct:avg", "count"],
         "domain": [["won_pct", "!=", None], ["to_stage", "in", OPEN]], "chart": "bar",
         "date_field": "at", "period": "all", "sequence": 45,
         "description": _("Of the closed opportunities that reached each stage, the share won (%)")},
        {"key": "crm.win_rate_by_owner", "label": _("Win rate per owner"), "model": "crm.opportunity",
         "dimensions": ["owner_id"], "measures": ["won_pct:avg", "count", "amount:sum"],
         "domain": closed, "chart": "bar", "period": "all", "sequence": 46,
         "description": _("Closed opportunities per owner: the share won (%)")},
    ]


# -- the model API's hooks ------------------------------------------------------------------
def before_create(env, model, values_list):
    if model == "crm.stage":
        for values in values_list:
            if values.get("probability") is None:
                values["probability"] = DEFAULT_PROBABILITY.get(values.get("code"), 0)
    elif model == "crm.opportunity":
        defaults = None
        for values in values_list:
            start = values.get("stage") or "new"
            if values.get("probability") is None:
                if defaults is None:
                    defaults = stage_probabilities(env)
                values["probability"] = defaults.get(start, DEFAULT_PROBABILITY.get(start, 0))
            elif not env.context.get(SYSTEM):
                values["probability_stage"] = start  # set by hand on the first stage
            values["weighted_amount"] = _weighted(values)
            values["stage_changed_at"] = values.get("stage_changed_at") or env.now


def after_create(env, model, records):
    if model == "crm.opportunity":
        predict.refresh(env, records.ids)


def after_write(env, model, records, values):
    if model == "crm.opportunity":
        if "probability" in values and not env.context.get(SYSTEM):
            _mark_by_hand(env, records)
        if set(values) & predict.OPPORTUNITY_INPUTS:
            predict.refresh(env, records.ids)
    elif model == "crm.customer" and set(values) & predict.CUSTOMER_INPUTS:
        predict.refresh_customers(env, records.ids)
    elif model == "crm.stage" and "probability" in values:
        _stage_defaults_changed(env, records)


def _system(env):
    # the pipeline's own bookkeeping fields are read-only to users: written
    # in the system context, flagged so that they do not count as by hand
    return env.sudo().with_context(**{SYSTEM: True})


def _mark_by_hand(env, records):
    """A user set the probability: it belongs to each record's current stage."""
    opportunities = _system(env)["crm.opportunity"]
    by_stage = {}
    for row in opportunities.search_read([["id", "in", records.ids]], ["stage"]):
        by_stage.setdefault(row["stage"] or "new", []).append(row["id"])
    for stage, ids in by_stage.items():
        opportunities.browse(ids).write({"probability_stage": stage})


def _stage_defaults_changed(env, stages):
    """Open opportunities in these stages follow their new default, unless
    set by hand on it."""
    opportunities = _system(env)["crm.opportunity"]
    for row in env.sudo()["crm.stage"].search_read([["id", "in", stages.ids]], ["code", "probability"]):
        if row["code"] not in OPEN:
            continue
        opportunities.search([["stage", "=", row["code"]], ["probability_stage", "=", None]]).write(
            {"probability": row["probability"]})


def stage_probabilities(env):
    """``{stage code: default probability}`` as the admin set them."""
    found = {r["code"]: r["probability"]
             for r in env.sudo()["crm.stage"].search_read([], ["code", "probability"])}
    return {code: found.get(code, default) for code, default in DEFAULT_PROBABILITY.items()}


# -- the workflow trigger ------------------------------------------------------------------
def workflow_trigger(env, model, records, action, name, params):
    """``crm.stage_changed``: the opportunities just moved by ``action``."""
    if name != TRIGGER or model != "crm.opportunity":
        return False
    stage_changed(env, records, action)
    return True


def stage_changed(env, records, action):
    """History row, stage timestamp, the new stage's probability and, on
    closing, the outcome on every history row of the opportunity."""
    system = _system(env)
    opportunities = system["crm.opportunity"]
    ids = list(dict.fromkeys(records.ids))
    rows = opportunities.search_read([["id", "in", ids]], ["stage", "stage_changed_at", "created_at",
                                                           "probability_stage"])
    last = {}
    for h in system["crm.stage_history"].search_read([["opportunity_id", "in", ids]],
                                                     ["opportunity_id", "to_stage"], order="at desc, id desc"):
        last.setdefault(h["opportunity_id"]["id"], h["to_stage"])
    defaults = stage_probabilities(env)
    history = []
    for row in rows:
        to = row["stage"]
        since = row["stage_changed_at"] or row["created_at"]
        days = round((env.now - since).total_seconds() / 86400, 2) if since else None
        history.append({"opportunity_id": row["id"], "action": action, "from_stage": last.get(row["id"], "new"),
                        "to_stage": to, "at": env.now, "by_id": env.uid, "days": days})
        values = {"stage_changed_at": env.now,
                  "won_pct": 100 if to == "won" else 0 if to == "lost" else None}
        if row["probability_stage"] != to:
            values.update(probability=defaults.get(to, 0), probability_stage=None)
        opportunities.browse(row["id"]).write(values)
    system["crm.stage_history"].create(history)
    for outcome in (100, 0, None):
        # an opportunity closing marks its history with the outcome; one
        # reopened (its last move was to won or lost) clears it again
        closing = [r["id"] for r in rows
                   if (100 if r["stage"] == "won" else 0 if r["stage"] == "lost" else None) == outcome
                   and (outcome is not None or last.get(r["id"]) in ("won", "lost"))]
        if closing:
            system["crm.stage_history"].search([["opportunity_id", "in", closing]]).write(
                {"won_pct": outcome})


# -- panels on the opportunity form ---------------------------------------------------------
def panels(env, model, record_id):
    if model != "crm.opportunity":
        return []
    return predict.panels(env, record_id) + _history_panel(env, record_id)


def _history_panel(env, record_id):
    if not env.access.allowed("crm.stage_history", "read"):
        return []
    from core.web.forms import tr
    from core.web.i18n import gettext

    names = {code: tr(label) for code, label in STAGES}
    history = env["crm.stage_history"]
    domain = [["opportunity_id", "=", record_id]]
    rows = history.search_read(domain, ["from_stage", "to_stage", "at", "days", "by_id"], limit=8)
    items = [{"label": gettext("%(from)s → %(to)s (%(days)s days in %(from)s, by %(user)s)",
                               **{"from": names.get(r["from_stage"], r["from_stage"] or ""),
                                  "to": names.get(r["to_stage"], r["to_stage"] or ""),
                                  "days": r["days"] if r["days"] is not None else "-",
                                  "user": (r["by_id"] or {}).get("name") or "-"}),
              "note": r["at"]} for r in rows]
    return [{"key": "crm.stage_history", "title": _("Stage history"), "sequence": 60,
             "count": history.search_count(domain), "items": items,
             "url": f"/web/crm.stage_history?qf=opportunity_id&qo=eq&qv={record_id}",
             "empty": _("No stage change yet.")}]


# -- upgrade ---------------------------------------------------------------------------------
def migrate(env, from_version, to_version):
    """Databases from before 0.4.0 keep the workflow rows they had (see
    docs/workflows.md): their shipped transitions gain the stage trigger,
    which replaces the old ``set_field`` of the probability on win and
    lose, and ``lose`` requires the lost reason."""
    if tuple(int(p) for p in str(from_version or "0").split(".")[:3] if p.isdigit()) >= (0, 4, 0):
        return
    transitions = env["core.workflow_transition"].search_read(
        [["model", "=", "crm.opportunity"], ["addon", "=", "crm_base"]], ["action", "required_fields"])
    if not transitions:
        return
    triggers = env["core.workflow_trigger"]
    existing = triggers.search_read([["transition_id", "in", [t["id"] for t in transitions]]],
                                    ["transition_id", "kind", "params", "addon"])
    hooked = {r["transition_id"]["id"] for r in existing
              if r["kind"] == "hook" and (r["params"] or {}).get("name") == TRIGGER}
    old = [r["id"] for r in existing if r["kind"] == "set_field" and r["addon"] == "crm_base"
           and (r["params"] or {}).get("field") == "probability"]
    if old:
        triggers.browse(old).unlink()
    missing = [{"transition_id": t["id"], "kind": "hook", "params": {"name": TRIGGER}, "sequence": 100,
                "addon": "crm_base"} for t in transitions if t["id"] not in hooked]
    if missing:
        triggers.create(missing)
    for t in transitions:
        if t["action"] == "lose" and "lost_reason" not in (t["required_fields"] or []):
            env["core.workflow_transition"].browse(t["id"]).write(
                {"required_fields": [*(t["required_fields"] or []), "lost_reason"]})
