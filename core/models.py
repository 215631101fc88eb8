"""Declaring models and extending them — what ``keel_models`` returns.

::

    Model("crm.customer", label=_("Customer"), order="name", fields={
        "name": fields.Char(_("Name"), required=True, index=True),
        "kind": fields.Selection(_("Kind"), options=[("company", _("Company")),
                                                       ("person", _("Person"))]),
    })

    Extend("crm.customer",
           fields={"credit_limit": fields.Decimal(_("Credit limit"))},
           selection_add={"source": [("fair", _("Trade fair"))]},
           attrs={"grade": {"default": "intent"}})

An addon extends only models of addons it depends on; every addon's pieces
are merged by the registry in dependency order.
"""
import re

from .errors import AddonError

MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_.]*$")
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Model:
    """A new model. ``rec_name`` is the field that names a record (its
    display name); ``order`` the default sort, e.g. ``"name, id desc"``."""

    def __init__(self, name, label=None, *, fields=None, order=None, rec_name=None,
                 description="", unique_together=(), access_parent=None, readable_by_all=False,
                 import_keys=(), trash=None, security=False):
        if not MODEL_NAME.match(name):
            raise AddonError(f"model name {name!r} must look like 'addon.entity' (lower case)")
        self.name = name
        self.label = label or name
        self.fields = dict(fields or {})
        self.order = order
        self.rec_name = rec_name
        self.description = description
        #: tuples of field names unique as a combination
        self.unique_together = [tuple(u) for u in unique_together]
        #: a many2one whose record's visibility this model's records follow
        #: (a contact is visible exactly when its customer is)
        self.access_parent = access_parent
        #: every signed-in user may read it (users, departments, roles)
        self.readable_by_all = readable_by_all
        #: ``[(field, normaliser)]`` that identify a record for import
        #: duplicates (``core.services.normalize.NORMALISERS``: ``exact``,
        #: ``company``, ``phone``, ``email``); the first ``exact`` one is the
        #: business key an ``--on-duplicate update`` import upserts by
        self.import_keys = [tuple(k) for k in import_keys]
        #: deleting a record moves it to the recycle bin (``None``: addon
        #: models do, the kernel's ``core.*`` bookkeeping does not)
        self.trash = trash
        #: its records feed access rules (a ``keel_record_rules`` domain
        #: reads them): changing one moves the security version
        self.security = security
        for fname in self.fields:
            check_field_name(name, fname)


class Extend:
    """Changes to a model declared by an addon this one depends on."""

    def __init__(self, name, *, fields=None, selection_add=None, attrs=None, label=None,
                 order=None):
        self.name = name
        self.fields = dict(fields or {})
        self.selection_add = dict(selection_add or {})
        self.attrs = dict(attrs or {})
        self.label = label
        self.order = order
        for fname in self.fields:
            check_field_name(name, fname)


def check_field_name(model, name):
    if not FIELD_NAME.match(name):
        raise AddonError(f"{model}: bad field name {name!r} (lower case letters, digits, _)")


__all__ = ["Extend", "Model"]
