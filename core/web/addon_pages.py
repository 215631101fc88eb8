"""Addons' own web pages (the ``keel_blueprints`` hook).

Every addon found is asked once, when the application is created, for its
blueprints; a blueprint's pages answer 404 while its addon is not installed
in the database (an addon switched off leaves no page behind).
"""
from flask import abort

from ..addons import load_module
from .session import database


def register(app):
    """Register the blueprints of every addon available to the app's
    database on ``app``; their names in order."""
    names = []
    for name, manifest in sorted(app.extensions["keel.db"].available.items()):
        hook = getattr(load_module(manifest), "keel_blueprints", None)
        if hook is None:
            continue
        for blueprint in hook() or ():
            # a module-level blueprint serves every app of the process
            # (tests create many): its check is added once, before the
            # first registration (Flask refuses setup methods after it)
            if not getattr(blueprint, "_keel_installed_only", False):
                blueprint.before_request(_installed_only(name))
                blueprint._keel_installed_only = True
            app.register_blueprint(blueprint)
            names.append(blueprint.name)
    return names


def _installed_only(addon):
    def check():
        db = database()
        with db.transaction() as conn:
            if addon not in db.registry(conn).addon_names:
                abort(404)
    return check
