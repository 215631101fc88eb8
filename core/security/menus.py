"""Module isolation for menus and views: a user sees only the menu items
and views of models they may read (a sales rep sees nothing of purchasing,
a buyer nothing of sales). A menu item without a model is a heading, shown
when one of the items below it is. Models everyone may read (users,
departments, roles — for pick-lists and the org chart) show in the menu only
to roles granted them explicitly: Settings is for administrators.

The shell (``core/web/templates/web/_shell.html``) draws :func:`menu_tree`
as its navigation and :func:`trail` as the breadcrumbs of a model's pages.
"""


def visible_menus(env):
    """The ``core.menu`` rows this user may see, in menu order, as dicts."""
    rows = env.sudo()["core.menu"].search_read([], ["key", "label", "parent", "model", "url", "sequence"])
    access = env.access
    shown = {r["key"] for r in rows if r["model"] and access.allowed(r["model"], "read", explicit=True)
             or (not r["model"] and r["url"])}
    children = {}
    for r in rows:
        children.setdefault(r["parent"], []).append(r["key"])

    def any_shown(key):
        return key in shown or any(any_shown(c) for c in children.get(key, ()))
    return [r for r in rows if any_shown(r["key"])]


def menu_tree(rows):
    """``rows`` (visible menus, in order) as the top-level items, each with
    its ``children`` (the same shape, any depth) and its address ``href``
    (``url``, else ``/web/MODEL``, else ``None`` for a heading)."""
    nodes = {r["key"]: {**r, "children": [],
                        "href": r["url"] or (f"/web/{r['model']}" if r["model"] else None)}
             for r in rows}
    top = []
    for r in rows:
        parent = nodes.get(r["parent"])
        (parent["children"] if parent is not None else top).append(nodes[r["key"]])
    return top


def trail(rows, model):
    """The menu items leading to ``model``'s entry, top first (``[]`` when
    no visible menu item opens it)."""
    by_key = {r["key"]: r for r in rows}
    item = next((r for r in rows if r["model"] == model), None)
    path = []
    while item is not None and item not in path:
        path.insert(0, item)
        item = by_key.get(item["parent"])
    return path


def visible_views(env, model):
    """The views of ``model`` this user may use (none without read access)."""
    if not env.access.allowed(model, "read"):
        return []
    return env.sudo()["core.view"].search_read([["model", "=", model]], ["key", "type", "arch"])
