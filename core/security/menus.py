"""Module isolation for menus and views: a user sees only the menu items
and views of models they may read (a sales rep sees nothing of purchasing,
a buyer nothing of sales). A menu item without a model is a heading, shown
when one of the items below it is. Models everyone may read (users,
departments, roles — for pick-lists and the org chart) show in the menu only
to roles granted them explicitly: Settings is for administrators."""


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


def visible_views(env, model):
    """The views of ``model`` this user may use (none without read access)."""
    if not env.access.allowed(model, "read"):
        return []
    return env.sudo()["core.view"].search_read([["model", "=", model]], ["key", "type", "arch"])
