"""Merging duplicate customers from the customer's form (administrators).

The merge itself is the kernel's (:mod:`core.services.merge`, ``POST
/api/v1/data/crm.customer/ID/merge``, ``/web/crm.customer/ID/merge``).
This part adds, below an administrator's customer form, a panel of the
customers that share one of its duplicate keys (:mod:`.duplicates`, one
indexed query), each with a link to merge it into the customer shown — the
same list the form's hint gives while typing, without JavaScript.
"""
import sqlalchemy as sa

from core.i18n import _

from . import duplicates


def panels(env, model, record_id):
    if model != duplicates.MODEL or not env.access.unrestricted:
        return []
    table = env.registry[model].table
    row = env.conn.execute(sa.select(*[table.c[c] for _k, (_f, c, _n) in duplicates.KEYS.items()])
                           .where(table.c.id == record_id)).first()
    if row is None:
        return []
    stored = dict(zip([c for _k, (_f, c, _n) in duplicates.KEYS.items()], row))
    keys = duplicates.active_keys(env)
    probe = {k: stored[c] for k, (_f, c, _n) in duplicates.KEYS.items()
             if k in keys and stored[c] is not None}
    found = duplicates.find(env, probe, exclude=[record_id])
    if not found:
        return []
    merge_url = f"/web/{model}/{record_id}/merge?ids=" + ",".join(str(d["id"]) for d in found)
    items = [{"label": d["name"], "note": d["owner"] or "", "url": f"/web/{model}/{d['id']}"}
             for d in found]
    items.append({"label": _("Merge them into this customer"), "translate": True, "url": merge_url})
    return [{"key": "crm.duplicates", "title": _("Likely duplicates"), "sequence": 3,
             "count": len(found), "items": items}]
