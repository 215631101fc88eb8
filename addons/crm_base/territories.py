"""Sales territories (``crm.territory``, 销售区域) and the routing of new
customers to a territory's reps.

A territory names regions, provinces/cities, postcodes (exact, or patterns
with ``*`` and ``?``: ``1000*``) and industries; a criterion left empty
matches any customer, and a customer matches a territory when it meets
every criterion given. Territories are tried by ``sequence`` (then id); the
first that matches wins.

Routing (``before_create`` of ``crm.customer``, once per batch): a row is
routed when the creator ticked ``route_to_territory``, or when the creator
holds no sales role (an administrator, an import, the API behind a web
form, a job) and gave no other owner than themselves. The row's owner
becomes the *least-loaded* rep of the territory — the one owning the
fewest customers, counting the rows of the batch already routed, ties to
the lowest user id — its department that rep's (else the territory's), its
``territory_id`` the territory; each routing is one ``route`` entry in the
audit log. Reps creating customers themselves keep them (CONTRACT.md §6).
Territories, reps and their loads are read once per batch: a 100,000-row
import costs three queries more, not one per row.
"""
import fnmatch
import functools
import json

import sqlalchemy as sa

from core import fields as F
from core.i18n import _, translate
from core.models import Extend, Model
from core.registry_cache import RegistryCache
from core.security import audit

from .models import INDUSTRIES

SALES_ROLES = frozenset({"sales_rep", "sales_manager", "sales_director"})
_PENDING = "crm_base.territories.pending"


def models():
    return [
        Model("crm.territory", _("Sales territory"), order="sequence, id", fields={
            "name": F.Char(_("Name"), required=True),
            "sequence": F.Integer(_("Priority"), default=10,
                                  help=_("Territories are tried lowest first; the first that matches wins")),
            "active": F.Boolean(_("Active"), default=True, index=True),
            "regions": F.Char(_("Regions"), help=_("Comma-separated, e.g. 华东, 华北; empty: any")),
            "cities": F.Char(_("Provinces and cities"),
                             help=_("Comma-separated; 上海 also matches 上海市; empty: any")),
            "postcodes": F.Char(_("Postcodes"),
                                help=_("Comma-separated postcodes or patterns such as 1000*; empty: any")),
            "industries": F.Char(_("Industries"),
                                 help=_("Comma-separated industries, by their names as the customer "
                                        "form shows them; empty: any")),
            "rep_ids": F.Many2many("core.user", _("Sales reps")),
            "department_id": F.Many2one("core.department", _("Department")),
            "note": F.Text(_("Note")),
        }),
        Extend("crm.customer", fields={
            "postcode": F.Char(_("Postcode"), index=True),
            "territory_id": F.Many2one("crm.territory", _("Territory")),
            "route_to_territory": F.Boolean(
                _("Route to a territory"), default=False,
                help=_("Give the new customer to the least-loaded rep of the first matching territory")),
        }),
    ]


def roles():
    return {"sales_rep": {"permissions": {"crm.territory": ["read"]},
                          "scopes": {"crm.territory": "all"}},
            "sales_manager": {"permissions": {"crm.territory": ["read", "create", "write", "export"]},
                              "scopes": {"crm.territory": "department_tree"}},
            "sales_director": {"permissions": {"crm.territory": ["read", "create", "write",
                                                                 "delete", "export"]},
                               "scopes": {"crm.territory": "all"}}}


def menus():
    return [{"key": "crm.territories", "label": _("Sales territories"), "parent": "crm.planning",
             "model": "crm.territory", "sequence": 20}]


def views():
    return [
        {"key": "crm.territory.list", "model": "crm.territory", "type": "list",
         "arch": {"fields": ["sequence", "name", "regions", "cities", "postcodes", "industries",
                             "rep_ids", "department_id", "active"]}},
        {"key": "crm.territory.form", "model": "crm.territory", "type": "form",
         "arch": {"sections": [
             {"label": _("Territory"), "fields": ["name", "sequence", "active", "department_id"]},
             {"label": _("Rules"), "fields": ["regions", "cities", "postcodes", "industries"]},
             {"label": _("Sales reps"), "fields": ["rep_ids", "note"]}]}},
    ]


# -- matching ---------------------------------------------------------------

def _items(text):
    if not text:
        return ()
    for sep in "，、;；\n":
        text = text.replace(sep, ",")
    return tuple(i.strip().casefold() for i in text.split(",") if i.strip())


def _norm(value):
    return str(value).replace(" ", "").replace("\u3000", "").casefold() if value else ""


@functools.cache
def _industry_names():
    """Every way to write an industry (its code, its English and Chinese
    names), casefolded, to its code."""
    out = {}
    for code, label in INDUSTRIES:
        for text in (code, label, translate(label, "zh_CN")):
            out[_norm(text)] = code
    return out


class Territory:
    """A territory's rules, parsed once per batch."""

    def __init__(self, row, reps):
        self.id = row["id"]
        self.name = row["name"]
        self.department_id = _key(row["department_id"])
        self.regions = _items(row["regions"])
        self.cities = _items(row["cities"])
        self.postcodes = _items(row["postcodes"])
        names = _industry_names()
        self.industries = tuple(names.get(_norm(i), i) for i in _items(row["industries"]))
        self.reps = reps

    def matches(self, values):
        if self.regions and _norm(values.get("region")) not in self.regions:
            return False
        if self.cities:
            city = _norm(values.get("city"))
            if not city or not any(city.startswith(c) for c in self.cities):
                return False
        if self.postcodes:
            code = _norm(values.get("postcode"))
            if not code or not any(fnmatch.fnmatchcase(code, p) for p in self.postcodes):
                return False
        if self.industries and _norm(values.get("industry")) not in self.industries:
            return False
        return True


def _key(value):
    return value["id"] if isinstance(value, dict) else value


def _load_rows(env):
    # the system context: routing runs for creators (an import, a web
    # form's API user) who may not read territories
    return env.sudo()["crm.territory"].search_read(
        [["active", "=", True]], ["name", "department_id", "regions", "cities", "postcodes",
                                  "industries", "rep_ids"], order="sequence, id")


#: the active territories, read once per registry (a change of one moves
#: the registry version: :func:`after_write`); their reps' being active is
#: read per batch, as users come and go without moving it
_ROWS = RegistryCache("crm.territories", _load_rows)


def load_territories(env):
    """Active territories in priority order with their active reps' ids
    (no query without territories; one per batch with them)."""
    su = env.sudo()
    rows = _ROWS.get(env)
    rep_ids = sorted({_key(r) for row in rows for r in (row["rep_ids"] or ())})
    active = {}
    if rep_ids:
        active = {u["id"]: _key(u["department_id"]) for u in su["core.user"].search_read(
            [["id", "in", rep_ids], ["active", "=", True]], ["department_id"])}
    out = []
    for row in rows:
        reps = sorted(_key(r) for r in (row["rep_ids"] or ()) if _key(r) in active)
        out.append(Territory(row, reps))
    return out, active


def match(territories, values):
    """The first territory of ``territories`` matching a customer's values."""
    for territory in territories:
        if territory.matches(values):
            return territory
    return None


def _creator_roles(env):
    """The codes of the caller's roles. Kept in the caller's access rules'
    cache, which lives until the security version moves (a change of roles
    moves it): one query per user and version, not per batch."""
    cache = env.access._cache
    key = ("crm_base.territories.roles",)
    if key not in cache:
        registry = env.registry
        link = registry["core.user"].link_tables["roles"]
        roles = registry["core.role"].table
        cache[key] = frozenset(env.conn.execute(
            sa.select(roles.c.code).join(link, link.c.target_id == roles.c.id)
            .where(link.c.source_id == env.uid)).scalars())
    return cache[key]


def _sells(env):
    """Does the creator hold a sales role? Administrators and the system
    context do not (no query for them)."""
    if env.su or env.access.admin or not env.uid:
        return False
    return bool(_creator_roles(env) & SALES_ROLES)


def _loads(env, reps):
    """Customers owned per rep (outside the pool), one GROUP BY; in the
    system context because the creator may see none of them."""
    groups = env.sudo()["crm.customer"].read_group(
        [["owner_id", "in", sorted(reps)], ["in_pool", "=", False]], ["owner_id"], ["id:count"])
    return {_key(g["owner_id"]): g["id:count"] for g in groups}


def route(env, values_list):
    """Route the rows of a customer batch that should be (see the module's
    doc); returns ``[(row index, territory, rep)]``."""
    wanted = []
    seller = None
    for i, row in enumerate(values_list):
        if row.get("in_pool"):
            continue
        if row.get("route_to_territory"):
            wanted.append(i)
        elif row.get("owner_id") in (None, env.uid):
            if seller is None:
                seller = _sells(env)
            if not seller:
                wanted.append(i)
    if not wanted:
        return []
    territories, departments = load_territories(env)
    if not territories:
        return []
    by_id = {t.id: t for t in territories}
    loads = None
    done = []
    for i in wanted:
        row = values_list[i]
        territory = by_id.get(row.get("territory_id")) or match(territories, row)
        if territory is None or not territory.reps:
            continue
        if loads is None:
            loads = _loads(env, {r for t in territories for r in t.reps})
        rep = min(territory.reps, key=lambda r: (loads.get(r, 0), r))
        loads[rep] = loads.get(rep, 0) + 1
        row["owner_id"] = rep
        row["department_id"] = departments.get(rep) or territory.department_id
        row["territory_id"] = territory.id
        row["route_to_territory"] = True
        done.append((i, territory, rep))
    return done


def _log(env, ids, routed):
    """One ``route`` audit entry per routed record (one executemany; a
    loop of ``audit.log`` would send one statement per record)."""
    audit._insert(env, "crm.customer", "route", [
        (ids[i], json.dumps({"territory_id": t.id, "territory": t.name, "owner_id": rep,
                             "rule": "least_loaded"}, ensure_ascii=False))
        for i, t, rep in routed])


def _run_route(records, comment, params):
    """Route existing customers again (a manager's "Route to a territory"
    button): their rules' territory, its least-loaded rep, written through
    the model API as the caller (their scopes apply to the new owner)."""
    env = records.env
    rows = records.read(["region", "city", "postcode", "industry", "territory_id", "in_pool"])
    # pool customers stay in the pool (route() skips them): claiming is the way out
    values = [{**r, "territory_id": _key(r["territory_id"]), "route_to_territory": True}
              for r in rows]
    routed = route(env, values)
    if not routed:
        return
    batches = {}
    for i, territory, rep in routed:
        row = values[i]
        key = (row["owner_id"], row["department_id"], territory.id)
        batches.setdefault(key, []).append(rows[i]["id"])
    for (owner, dept, territory_id), ids in batches.items():
        env["crm.customer"].browse(ids).write({"owner_id": owner, "department_id": dept,
                                                "territory_id": territory_id,
                                                "route_to_territory": True})
    _log(env, [r["id"] for r in rows], routed)


def _may_route(records):
    env = records.env
    if env.access.unrestricted or env.access.admin \
            or _creator_roles(env) & {"sales_manager", "sales_director"}:
        return set(records.ids)
    return set()


def record_actions():
    return [{"model": "crm.customer", "action": "route", "label": _("Route to a territory"),
             "run": _run_route, "allowed": _may_route}]


def before_create(env, model, values_list):
    if model != "crm.customer":
        return
    routed = route(env, values_list)
    # the audit entries need the ids: after_create of the same batch logs them
    env.cache.setdefault(_PENDING, []).append((len(values_list), routed))


def after_create(env, model, records):
    if model == "crm.territory":
        _ROWS.changed(env)
    if model != "crm.customer":
        return
    pending = env.cache.get(_PENDING)
    if not pending:
        return
    size, routed = pending.pop()
    if size != len(records.ids) or not routed:
        return
    _log(env, records.ids, routed)


def after_write(env, model, records, values):
    if model == "crm.territory":
        _ROWS.changed(env)


def after_unlink(env, model, ids):
    if model == "crm.territory":
        _ROWS.changed(env)

