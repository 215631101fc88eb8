"""Contact cycles, after-sale service cycles and their reminders
(docs/pipeline.md).

* A customer's **contact cycle** is its own ``contact_cycle_days``, else
  its grade's (``crm.contact_cycle``: data an admin changes). A follow-up
  logged without a next contact date sets the customer's
  ``next_contact_at`` to the follow-up's time plus the cycle.
* **After-sale service**: ``service_cycle_days`` (else the grade's
  ``service_days``, shipped for deal customers) counted from
  ``last_service_at``, which a follow-up marked as a service visit moves.
* The daily job ``crm.reminders`` gives each owner a to-do
  (``core.activity``) and a notification for their customers due today or
  tomorrow — to contact, or to visit for service — once per customer, kind
  and due date (``crm.reminder`` remembers them: running the job twice
  reminds nobody twice). Every filter runs in SQL.
"""
import datetime as dt

from core import fields as F
from core.i18n import _, translate
from core.models import Extend, Model

from .models import GRADES

#: shipped cycles per grade (days): contact, after-sale service
DEFAULT_CYCLES = {"potential": (30, None), "intent": (14, None), "deal": (30, 90)}
KINDS = [("contact", _("Contact")), ("service", _("Service visit"))]


def models():
    return [
        Model("crm.contact_cycle", _("Contact cycle"), order="grade", rec_name="grade",
              trash=False, fields={
                  "grade": F.Selection(_("Grade"), options=GRADES, required=True, unique=True),
                  "contact_days": F.Integer(_("Contact cycle (days)"),
                                            help=_("Days between two contacts of a customer of this grade "
                                                   "without a cycle of its own")),
                  "service_days": F.Integer(_("Service cycle (days)"),
                                            help=_("Days between two after-sale service visits")),
              }),
        Model("crm.reminder", _("Reminder"), order="due_date desc, id desc", access_parent="customer_id",
              trash=False, unique_together=[("customer_id", "kind", "due_date")], fields={
                  "customer_id": F.Many2one("crm.customer", _("Customer"), required=True,
                                            ondelete="cascade", index=True),
                  "kind": F.Selection(_("Kind"), options=KINDS, required=True),
                  "due_date": F.Date(_("Due date"), required=True, index=True),
                  "owner_id": F.Many2one("core.user", _("Owner")),
                  "activity_id": F.Many2one("core.activity", _("To-do"), ondelete="set null"),
              }),
        Extend("crm.customer", fields={
            "service_cycle_days": F.Integer(_("Service cycle (days)"),
                                            help=_("Days between after-sale service visits; empty: "
                                                   "the grade's cycle")),
            "last_service_at": F.Datetime(_("Last service visit")),
        }),
        Extend("crm.interaction", fields={
            "is_service": F.Boolean(_("After-sale service visit"), default=False),
        }),
    ]


def data():
    # only the key: the days are filled on create, an admin's changes survive upgrades
    return [{"model": "crm.contact_cycle", "key": "grade",
             "records": [{"grade": grade} for grade in DEFAULT_CYCLES]}]


def roles():
    # the reminders given (access_parent: they follow their customer's visibility)
    return {role: {"permissions": {"crm.reminder": ["read", "export"]}, "scopes": {"crm.reminder": scope}}
            for role, scope in (("sales_rep", "own"), ("sales_manager", "department_tree"),
                                ("sales_director", "all"))}


def menus():
    return [{"key": "crm.contact_cycles", "label": _("Contact cycles"), "parent": "crm.config",
             "model": "crm.contact_cycle", "sequence": 40}]


def views():
    return [{"key": "crm.contact_cycle.list", "model": "crm.contact_cycle", "type": "list",
             "arch": {"fields": ["grade", "contact_days", "service_days"]}},
            {"key": "crm.reminder.list", "model": "crm.reminder", "type": "list",
             "arch": {"fields": ["due_date", "kind", "customer_id", "owner_id"]}}]


def jobs():
    return [{"key": "crm.reminders", "label": _("Contact and service reminders"),
             "function": "addons.crm_base.cycles:daily", "cron": "0 0 * * *"}]


def cycles(env):
    """``{grade: (contact days, service days)}`` as the admin set them."""
    return {r["grade"]: (r["contact_days"], r["service_days"])
            for r in env.sudo()["crm.contact_cycle"].search_read([], ["grade", "contact_days", "service_days"])}


# -- the model API's hooks ------------------------------------------------------------------
def before_create(env, model, values_list):
    if model == "crm.contact_cycle":
        for values in values_list:
            contact, service = DEFAULT_CYCLES.get(values.get("grade"), (None, None))
            if values.get("contact_days") is None:
                values["contact_days"] = contact
            if values.get("service_days") is None:
                values["service_days"] = service


# -- the daily job ---------------------------------------------------------------------------
def daily(env):
    """The job ``crm.reminders`` (system context, ``env.now`` its clock):
    reminders for customers due today or tomorrow."""
    return remind(env)


def _window(env):
    today = env.now.date()
    start = dt.datetime.combine(today, dt.time())
    return today, start, start + dt.timedelta(days=2)


def due_customers(env):
    """``[(kind, customer row, due date)]``: customers with an owner whose
    next contact or service visit falls today or tomorrow."""
    env = env.sudo()
    customers = env["crm.customer"]
    _today, start, end = _window(env)
    fields = ["name", "owner_id", "next_contact_at", "last_service_at", "service_cycle_days", "grade"]
    owned = [["owner_id", "!=", None]]
    due = [("contact", row, row["next_contact_at"].date()) for row in customers.search_read(
        owned + [["next_contact_at", ">=", start], ["next_contact_at", "<", end]], fields)]
    # service: last visit + cycle in the window <=> last visit in the window moved back by the cycle
    windows = [(row["service_cycle_days"], [["service_cycle_days", "=", row["service_cycle_days"]]])
               for row in customers.read_group(owned + [["service_cycle_days", ">", 0]],
                                               ["service_cycle_days"], ["id:count"])]
    windows += [(service, [["grade", "=", grade], "|", ["service_cycle_days", "=", None],
                           ["service_cycle_days", "=", 0]])
                for grade, (_contact, service) in cycles(env).items() if service]
    for days, terms in windows:
        back = dt.timedelta(days=days)
        for row in customers.search_read(owned + terms + [["last_service_at", ">=", start - back],
                                                          ["last_service_at", "<", end - back]], fields):
            due.append(("service", row, (row["last_service_at"] + back).date()))
    return due


def remind(env):
    """Create the reminders due and not yet given; returns how many of each kind."""
    system = env.sudo()
    today, _start, _end = _window(system)
    due = due_customers(system)
    done = set()
    ids = sorted({row["id"] for _k, row, _d in due})
    for start in range(0, len(ids), 900):
        for r in system["crm.reminder"].search_read(
                [["customer_id", "in", ids[start:start + 900]], ["due_date", ">=", today]],
                ["customer_id", "kind", "due_date"]):
            done.add((r["customer_id"]["id"], r["kind"], r["due_date"]))
    todo, seen = [], set()
    for kind, row, due_date in due:
        key = (row["id"], kind, due_date)
        if key not in done and key not in seen:
            seen.add(key)
            todo.append((kind, row, due_date))
    counts = {"contact": 0, "service": 0}
    if not todo:
        return counts
    owners = sorted({row["owner_id"]["id"] for _k, row, _d in todo})
    langs = {u["id"]: u["lang"] for u in system["core.user"].search_read([["id", "in", owners]], ["lang"])}
    texts = {"contact": _("Contact %(customer)s (due %(date)s)"),
             "service": _("After-sale service visit to %(customer)s (due %(date)s)")}
    activities = system["core.activity"].create([
        {"owner_id": row["owner_id"]["id"], "model": "crm.customer", "record_id": row["id"],
         "due_date": due_date, "summary": translate(texts[kind], langs.get(row["owner_id"]["id"]))
         % {"customer": row["name"], "date": due_date.isoformat()}} for kind, row, due_date in todo])
    system["crm.reminder"].create([
        {"customer_id": row["id"], "kind": kind, "due_date": due_date, "owner_id": row["owner_id"]["id"],
         "activity_id": aid} for (kind, row, due_date), aid in zip(todo, activities.ids)])
    for kind, _row, _d in todo:
        counts[kind] += 1
    _notify(system, todo, texts)
    return counts


def _notify(env, todo, texts):
    """One notification per owner: the customer itself when there is one,
    else how many and the list."""
    from core.services import notify
    by_owner = {}
    for kind, row, due_date in todo:
        by_owner.setdefault(row["owner_id"]["id"], []).append((kind, row, due_date))
    for owner, items in by_owner.items():
        def line(lang, item):
            kind, row, due_date = item
            return translate(texts[kind], lang) % {"customer": row["name"], "date": due_date.isoformat()}
        if len(items) == 1:
            notify.send(env, [owner], lambda lang, item=items[0]: line(lang, item),
                        record=("crm.customer", items[0][1]["id"]), kind="crm.reminder")
        else:
            notify.send(env, [owner],
                        lambda lang, n=len(items): translate(_("%(count)s customers to contact or visit"),
                                                             lang) % {"count": n},
                        lambda lang, items=items: "\n".join(line(lang, i) for i in items),
                        kind="crm.reminder")
