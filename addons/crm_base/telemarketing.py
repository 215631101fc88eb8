"""Telemarketing (电话营销): call scripts (``crm.call_script``, 话术), call
lists (``crm.call_list``) built from a filter over customers and assigned
to reps, and the calls they generate (``crm.call``).

* ``generate(env, list_id)`` — one search of the list's domain (as the
  caller: a manager lists only customers they may see), one read of the
  calls already generated (a customer is called once per list), one read of
  first contacts, one batch ``create``; reps are assigned round-robin,
  continuing where the previous generation stopped. Run by the record
  action ``generate`` (the list form's button) or from the page
  ``/web/crm/call_lists``.
* A rep logs an outcome by writing the call's ``state`` (done, callback, no
  answer, refused): ``called_at`` is filled, and unless ``log_followup`` is
  unticked a follow-up (``crm.interaction``, channel phone) is logged on the
  customer for done, callback and refused, its next contact the callback
  time. A callback keeps the call in the rep's queue at ``callback_at``.
* The rep's queue: the list filter "My calls for today" (to call, or
  callbacks due by tonight), the calendar of callbacks and the workbench
  card "Calls to make today".
"""
import datetime as dt

from flask import Blueprint, redirect, render_template

from core import fields as F
from core.errors import AccessDenied, UserInputError, ValidationError
from core.i18n import _, translate
from core.models import Model
from core.web.context import page

LIST_STATES = [("draft", _("Draft")), ("active", _("Active")), ("done", _("Done"))]
CALL_STATES = [("to_call", _("To call")), ("done", _("Done")), ("callback", _("Call back")),
               ("no_answer", _("No answer")), ("refused", _("Refused"))]
#: the states after which a conversation took place: logged as a follow-up
TALKED = ("done", "callback", "refused")
OPEN = ["to_call", "callback"]


def models():
    return [
        Model("crm.call_script", _("Call script"), order="name", fields={
            "name": F.Char(_("Name"), required=True),
            "body": F.Text(_("Script"), help=_("The steps of the call, one per line")),
            "active": F.Boolean(_("Active"), default=True),
        }),
        Model("crm.call_list", _("Call list"), order="date_from desc, id desc", fields={
            "name": F.Char(_("Name"), required=True),
            "domain": F.Json(_("Customer filter"),
                             help=_('A domain over customers, e.g. [["grade", "=", "potential"], '
                                    '["city", "=", "上海"]]')),
            "rep_ids": F.Many2many("core.user", _("Sales reps")),
            "script_id": F.Many2one("crm.call_script", _("Call script")),
            "state": F.Selection(_("State"), options=LIST_STATES, default="draft", required=True),
            "date_from": F.Date(_("Start date")),
            "date_to": F.Date(_("End date")),
            "owner_id": F.Many2one("core.user", _("Responsible")),
            "department_id": F.Many2one("core.department", _("Department")),
            "call_ids": F.One2many("crm.call", "call_list_id", _("Calls")),
        }),
        Model("crm.call", _("Call"), order="callback_at, id", rec_name="customer_name", fields={
            "call_list_id": F.Many2one("crm.call_list", _("Call list"), required=True,
                                       ondelete="cascade", index=True),
            "customer_id": F.Many2one("crm.customer", _("Customer"), required=True,
                                      ondelete="cascade", index=True),
            # copied when generated: a rep calls customers they may not see
            "customer_name": F.Char(_("Customer name")),
            "phone": F.Char(_("Phone")),
            "contact_id": F.Many2one("crm.contact", _("Contact")),
            "owner_id": F.Many2one("core.user", _("Sales rep"), index=True),
            "state": F.Selection(_("State"), options=CALL_STATES, default="to_call",
                                 required=True, index=True),
            "outcome": F.Char(_("Outcome")),
            "notes": F.Text(_("Notes")),
            "callback_at": F.Datetime(_("Call back at"), index=True),
            "called_at": F.Datetime(_("Called at")),
            "duration": F.Integer(_("Duration (seconds)")),
            "log_followup": F.Boolean(_("Log a follow-up"), default=True,
                                      help=_("Logging the outcome adds a phone follow-up to the customer")),
            "interaction_id": F.Many2one("crm.interaction", _("Follow-up"), readonly=True),
        }),
    ]


def roles():
    return {
        "sales_rep": {"permissions": {"crm.call": ["read", "write"],
                                      "crm.call_list": ["read"], "crm.call_script": ["read"]},
                      "scopes": {"crm.call": "own", "crm.call_list": "own", "crm.call_script": "all"}},
        "sales_manager": {
            "permissions": {"crm.call": ["read", "create", "write", "delete", "export"],
                            "crm.call_list": ["read", "create", "write", "delete", "export"],
                            "crm.call_script": ["read", "create", "write", "delete"]},
            "scopes": {"crm.call": "department_tree", "crm.call_list": "department_tree",
                       "crm.call_script": "all"}},
        "sales_director": {
            "permissions": {"crm.call": ["read", "create", "write", "delete", "export"],
                            "crm.call_list": ["read", "create", "write", "delete", "export"],
                            "crm.call_script": ["read", "create", "write", "delete"]},
            "scopes": {"crm.call": "all", "crm.call_list": "all", "crm.call_script": "all"}},
    }


def record_rules(env, model):
    """A rep reads the call lists naming them, beside their own."""
    if model != "crm.call_list":
        return []
    return [[["rep_ids", "in", [env.uid]]]]


def menus():
    return [
        {"key": "crm.calls", "label": _("Calls"), "parent": "crm", "model": "crm.call",
         "sequence": 35},
        {"key": "crm.call_lists", "label": _("Call lists"), "parent": "crm.planning",
         "model": "crm.call_list", "sequence": 30},
        {"key": "crm.call_generate", "label": _("Generate calls"), "parent": "crm.planning",
         "model": "crm.call_list", "url": "/web/crm/call_lists", "sequence": 31},
        {"key": "crm.call_scripts", "label": _("Call scripts"), "parent": "crm.config",
         "model": "crm.call_script", "sequence": 70},
    ]


def views():
    return [
        {"key": "crm.call.list", "model": "crm.call", "type": "list",
         "arch": {"fields": ["customer_name", "phone", "contact_id", "state", "callback_at",
                             "outcome", "owner_id", "call_list_id"]}},
        {"key": "crm.call.form", "model": "crm.call", "type": "form",
         "arch": {"sections": [
             {"label": _("Call"), "fields": ["customer_id", "customer_name", "phone", "contact_id",
                                             "call_list_id", "owner_id"]},
             {"label": _("Outcome"), "fields": ["state", "outcome", "notes", "callback_at",
                                                "called_at", "duration", "log_followup",
                                                "interaction_id"]}]}},
        {"key": "crm.call.calendar", "model": "crm.call", "type": "calendar",
         "arch": {"date": "callback_at", "fields": ["customer_name", "phone"]}},
        {"key": "crm.call.search.queue", "model": "crm.call", "type": "search",
         "arch": {"extends": "crm.call.search", "append": {"filters": [
             {"key": "my_queue", "label": _("My calls for today"),
              # in prefix form throughout: the list joins filters as groups
              "domain": ["&", "&", ["owner_id", "=", "@uid"], ["state", "in", OPEN],
                         "|", ["callback_at", "=", None], ["callback_at", "<", "@tomorrow"]]}]}}},
        {"key": "crm.call_list.list", "model": "crm.call_list", "type": "list",
         "arch": {"fields": ["name", "state", "date_from", "date_to", "script_id", "owner_id"]}},
        {"key": "crm.call_list.form", "model": "crm.call_list", "type": "form",
         "arch": {"sections": [
             {"label": _("Call list"), "fields": ["name", "state", "date_from", "date_to",
                                                  "script_id", "owner_id"]},
             {"label": _("Customers and reps"), "fields": ["domain", "rep_ids"]},
             {"label": _("Calls"), "fields": ["call_ids"]}]}},
        {"key": "crm.call_script.list", "model": "crm.call_script", "type": "list",
         "arch": {"fields": ["name", "active"]}},
    ]


def reports():
    return [{"key": "crm.call_outcomes", "label": _("Call outcomes per rep"), "model": "crm.call",
             "dimensions": ["owner_id", "state"], "measures": ["count", "duration:sum"],
             "date_field": "called_at", "period": "month", "chart": "bar", "sequence": 80,
             "description": _("Calls made per rep and outcome, with their total duration")}]


# -- generation ---------------------------------------------------------------

def _key(value):
    return value["id"] if isinstance(value, dict) else value


def _chunks(items, size=1000):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def generate(env, list_id):
    """Create the calls of call list ``list_id`` for the customers its
    domain finds that have none in it yet; returns the new calls."""
    if not env.access.allowed("crm.call", "create"):
        raise AccessDenied(_("You may not generate calls: managers build call lists"),
                           {"model": "crm.call"})
    lists = env["crm.call_list"].browse([list_id])
    row = lists.read(["name", "domain", "rep_ids", "state"])[0]
    if row["state"] == "done":
        raise UserInputError(_("Call list {name} is done: no call can be added").format(
            name=row["name"]))
    reps = sorted(_key(r) for r in row["rep_ids"] or ())
    if not reps:
        raise ValidationError(_("Call list {name} has no sales rep to call").format(name=row["name"]),
                              {"model": "crm.call_list", "field": "rep_ids"})
    domain = row["domain"] or []
    if not isinstance(domain, list):
        raise ValidationError(_("The customer filter must be a list of conditions"),
                              {"model": "crm.call_list", "field": "domain"})
    calls = env["crm.call"]
    existing = calls.search_read([["call_list_id", "=", list_id]], ["customer_id"])
    seen = {_key(r["customer_id"]) for r in existing}
    customers = [c for c in env["crm.customer"].search_read(
        domain, ["name", "phone", "mobile"],
        order="id") if c["id"] not in seen]
    if not customers:
        return calls.browse(())
    contacts = {}
    ids = [c["id"] for c in customers]
    for chunk in _chunks(ids):
        for contact in env["crm.contact"].search_read([["customer_id", "in", chunk]],
                                                      ["customer_id", "mobile", "phone"], order="id"):
            contacts.setdefault(_key(contact["customer_id"]), contact)
    start = len(existing)
    values = []
    for n, c in enumerate(customers):
        contact = contacts.get(c["id"])
        phone = c["mobile"] or c["phone"] or (contact and (contact["mobile"] or contact["phone"]))
        values.append({"call_list_id": list_id, "customer_id": c["id"], "customer_name": c["name"],
                       "phone": phone or None, "contact_id": contact["id"] if contact else None,
                       "owner_id": reps[(start + n) % len(reps)], "state": "to_call"})
    made = calls.create(values)
    if row["state"] == "draft":
        lists.write({"state": "active"})
    return made


def _run_generate(records, comment, params):
    for list_id in records.ids:
        generate(records.env, list_id)


def _may_generate(records):
    if not records.env.access.allowed("crm.call", "create"):
        return set()
    return {r["id"] for r in records.read(["state"]) if r["state"] != "done"}


def record_actions():
    """"Generate calls" on a call list's form (``core/record_actions.py``):
    ``records.action("generate")``, ``POST /api/v1/data/crm.call_list/ID/
    actions/generate``."""
    return [{"model": "crm.call_list", "action": "generate", "label": _("Generate calls"),
             "run": _run_generate, "allowed": _may_generate}]


# -- outcomes ---------------------------------------------------------------

def before_write(env, model, records, values):
    if model == "crm.call" and values.get("state") in ("done", "callback", "no_answer", "refused") \
            and "called_at" not in values:
        values["called_at"] = env.now


def after_write(env, model, records, values):
    if model != "crm.call" or values.get("state") not in TALKED:
        return
    rows = records.read(["customer_id", "contact_id", "owner_id", "state", "outcome", "notes",
                         "callback_at", "log_followup", "interaction_id"])
    todo = [r for r in rows if r["log_followup"] and not r["interaction_id"]]
    if not todo:
        return
    # the summary is data: written in the rep's language
    lang = env.user_values().get("lang") or "en"
    labels = {code: translate(label, lang) for code, label in CALL_STATES}
    # the system context: a manager assigned the call, so the rep logs it on
    # the customer even when the customer is not theirs (a pool lead, a
    # colleague's customer); the follow-up names the rep as its owner
    su = env.sudo()
    made = su["crm.interaction"].create([{
        "customer_id": _key(r["customer_id"]), "contact_id": _key(r["contact_id"]),
        "channel": "phone", "at": env.now, "owner_id": _key(r["owner_id"]) or env.uid,
        "summary": r["outcome"] or r["notes"] or labels[r["state"]],
        "outcome": r["notes"], "next_contact_at": r["callback_at"]} for r in todo])
    calls = su["crm.call"]
    for r, interaction_id in zip(todo, made.ids):
        calls.browse([r["id"]]).write({"interaction_id": interaction_id})


# -- workbench ---------------------------------------------------------------

def queue_domain(env):
    tomorrow = dt.datetime.combine(env.now.date(), dt.time()) + dt.timedelta(days=1)
    return [["owner_id", "=", env.uid], ["state", "in", OPEN],
            "|", ["callback_at", "=", None], ["callback_at", "<", tomorrow]]


def cards(env):
    if not env.access.allowed("crm.call", "read"):
        return []
    calls = env["crm.call"]
    domain = queue_domain(env)
    count = calls.search_count(domain)
    if not count:
        return []
    # the queue's head: callbacks by their time first, then the calls not made yet
    head = calls.search_read(domain, ["customer_name", "callback_at"], order="callback_at, id", limit=6)
    items = [{"label": r["customer_name"], "url": f"/web/crm.call/{r['id']}", "note": r["callback_at"]}
             for r in head]
    return [{"key": "crm.calls", "title": _("Calls to make today"), "sequence": 9, "count": count,
             "url": "/web/crm.call?f=my_queue", "empty": _("No call to make today."), "items": items}]


# -- pages -------------------------------------------------------------------

bp = Blueprint("crm_telemarketing", __name__, url_prefix="/web/crm", template_folder="web")


@bp.get("/call_lists")
@page
def call_lists(env):
    lists = env["crm.call_list"].search_read([["state", "!=", "done"]],
                                             ["name", "state", "rep_ids", "date_from", "date_to"])
    counts = {}
    if lists:
        for g in env["crm.call"].read_group([["call_list_id", "in", [r["id"] for r in lists]]],
                                            ["call_list_id"], ["id:count"]):
            counts[_key(g["call_list_id"])] = g["id:count"]
    may = env.access.allowed("crm.call", "create")
    return render_template("terr/call_lists.html", title=_("Generate calls"), lists=lists,
                           counts=counts, may_generate=may, states=dict(LIST_STATES))


@bp.post("/call_lists/<int(max=2147483647):list_id>/generate")
@page
def call_list_generate(env, list_id):
    generate(env, list_id)
    return redirect(f"/web/crm.call_list/{list_id}")


def blueprints():
    return [bp]
