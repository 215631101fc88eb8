"""The 360° view of a customer: panels below the customer's form
(``keel_form_panels``, collected by ``crm_base.keel_form_panels``).

crm_base shows four panels: a summary (last contact, next contact, won
amount, open pipeline), the contacts, the newest follow-ups and the open
opportunities (amount and stage). Each has its count and a "see all" link
to the list view filtered on the customer (``?qf=customer_id&qo=eq&qv=ID``,
the list's query rows). Other addons (sales orders, contracts, service
cases, payments) add their own panels through the same hook: see
docs/crm.md.

Everything is read through ``env`` as the signed-in user, so record rules
apply (a rep sees only what they may read), in a fixed number of queries
whatever the number of related records: the customer (1), contacts (2),
follow-ups (2), opportunities (one list and one GROUP BY by stage: 2).
"""
from core.i18n import _

from .workflow import OPEN

#: related records listed in each panel at most
SHOWN = 5


def _list_url(model, rid, extra=""):
    return f"/web/{model}?qf=customer_id&qo=eq&qv={rid}{extra}"


def panels(env, model, record_id):
    """The customer's 360° panels (none for other models or when the
    customer is out of the user's scope)."""
    if model != "crm.customer" or not env.access.allowed("crm.customer", "read"):
        return []
    from core.web.forms import tr
    from core.web.i18n import format_datetime, format_money, gettext

    found = env["crm.customer"].search_read([["id", "=", record_id]], ["next_contact_at"])
    if not found:
        return []
    customer = found[0]
    mine = [["customer_id", "=", record_id]]
    out = []
    last = None
    won = open_amount = None
    open_count = 0
    if env.access.allowed("crm.contact", "read"):
        contacts = env["crm.contact"]
        rows = contacts.search_read(mine, ["name", "title", "mobile"], limit=SHOWN)
        out.append({"key": "crm.panel.contacts", "title": _("Contacts"), "sequence": 20,
                    "count": contacts.search_count(mine) if len(rows) == SHOWN else len(rows),
                    "url": _list_url("crm.contact", record_id), "empty": _("No contact yet."),
                    "items": [{"label": r["name"], "url": f"/web/crm.contact/{r['id']}",
                               "note": " · ".join(x for x in (r["title"], r["mobile"]) if x)}
                              for r in rows]})
    if env.access.allowed("crm.interaction", "read"):
        interactions = env["crm.interaction"]
        rows = interactions.search_read(mine, ["at", "summary", "channel"], order="at desc, id desc",
                                        limit=SHOWN)
        last = rows[0]["at"] if rows else None
        channels = dict(env.registry["crm.interaction"].fields["channel"].options)
        out.append({"key": "crm.panel.followups", "title": _("Recent follow-ups"), "sequence": 30,
                    "count": interactions.search_count(mine) if len(rows) == SHOWN else len(rows),
                    "url": _list_url("crm.interaction", record_id), "empty": _("No follow-up yet."),
                    "items": [{"label": (r["summary"] or "")[:80], "url": f"/web/crm.interaction/{r['id']}",
                               "note": f"{format_datetime(r['at'])} · {tr(channels.get(r['channel'], r['channel']))}"}
                              for r in rows]})
    if env.access.allowed("crm.opportunity", "read"):
        opportunities = env["crm.opportunity"]
        is_open = mine + [["stage", "in", OPEN]]
        rows = opportunities.search_read(is_open, ["name", "amount", "stage"], limit=SHOWN)
        stages = dict(env.registry["crm.opportunity"].fields["stage"].options)
        for group in opportunities.read_group(mine, ["stage"], ["amount:sum", "id:count"]):
            if group["stage"] == "won":
                won = group["amount:sum"]
            elif group["stage"] in OPEN:
                open_count += group["id:count"]
                open_amount = (open_amount or 0) + (group["amount:sum"] or 0)
        out.append({"key": "crm.panel.opportunities", "title": _("Open opportunities"), "sequence": 40,
                    "count": open_count,
                    "url": _list_url("crm.opportunity", record_id,
                                     "&qf=stage&qo=in&qv=" + ",".join(OPEN)),
                    "empty": _("No open opportunity."),
                    "items": [{"label": r["name"], "url": f"/web/crm.opportunity/{r['id']}",
                               "note": f"{format_money(r['amount'] or 0)} · {tr(stages.get(r['stage'], r['stage']))}"}
                              for r in rows]})
    dash = "—"
    summary = [
        gettext("Last contact: %(when)s", when=format_datetime(last) if last else dash),
        gettext("Next contact: %(when)s", when=format_datetime(customer["next_contact_at"])
                if customer["next_contact_at"] else dash),
    ]
    if env.access.allowed("crm.opportunity", "read"):
        summary += [gettext("Won amount: %(amount)s", amount=format_money(won or 0)),
                    gettext("Open pipeline: %(amount)s in %(count)s opportunities",
                            amount=format_money(open_amount or 0), count=open_count)]
    out.append({"key": "crm.panel.summary", "title": _("Customer at a glance"), "sequence": 10,
                "items": [{"label": line} for line in summary]})
    return out
