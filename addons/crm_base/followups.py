"""What logging follow-ups (``crm.interaction``) changes on their customers,
in one write per customer whatever the parts involved:

* ``last_contact_at`` — the latest follow-up's time (the clock of the lead
  pool's "days without a follow-up" rules, ``pool.py``);
* ``next_contact_at`` — the date the latest follow-up names, else its time
  plus the customer's contact cycle or its grade's (``cycles.py``);
* ``last_service_at`` — the latest after-sale service visit (``cycles.py``).

Written in the system context: these dates are bookkeeping, moved by
whoever may log a follow-up on the customer, even without write on it
(the audit entry still names them).
"""
import datetime as dt

from . import cycles


def after_create(env, model, records):
    if model != "crm.interaction":
        return
    rows = records.read(["customer_id", "next_contact_at", "at", "is_service"])
    latest, served = {}, {}
    for row in rows:
        cid = row["customer_id"]["id"]
        if row["at"] is not None and (cid not in latest or row["at"] >= latest[cid]["at"]):
            latest[cid] = row
        if row["is_service"] and row["at"] is not None:
            served[cid] = max(served.get(cid, row["at"]), row["at"])
    if not latest:
        return
    customers = env.sudo()["crm.customer"]
    current = {r["id"]: r for r in customers.search_read(
        [["id", "in", sorted(latest)]], ["contact_cycle_days", "grade", "last_contact_at",
                                         "next_contact_at", "last_service_at"])}
    by_grade = None
    for cid, row in latest.items():
        now = current.get(cid)
        if now is None:
            continue
        values = {}
        if now["last_contact_at"] is None or row["at"] > now["last_contact_at"]:
            values["last_contact_at"] = row["at"]
        planned = row["next_contact_at"]
        if planned is None:
            days = now["contact_cycle_days"]
            if not days:
                by_grade = cycles.cycles(env) if by_grade is None else by_grade
                days = by_grade.get(now["grade"], (None, None))[0]
            if days:
                planned = row["at"] + dt.timedelta(days=days)
        if planned is not None and planned != now["next_contact_at"]:
            values["next_contact_at"] = planned
        if cid in served and (now["last_service_at"] is None or served[cid] > now["last_service_at"]):
            values["last_service_at"] = served[cid]
        if values:
            customers.browse(cid).write(values)
