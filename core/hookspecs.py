"""Every hook an addon can implement — the table of contents of the kernel.

An addon implements a hook by defining a function of the same name decorated
with ``core.hookimpl`` in its package. Rules, checked when the addon loads:

* the function takes a subset of the parameters listed here, by name, with
  no default values and no keyword-only parameters;
* an unknown hook name or an unknown parameter fails the load, naming the
  addon and the function (``pluggy.PluginValidationError``).

The kernel always passes every parameter. It calls *data* hooks in addon
dependency order and a failure there is an error naming the addon;
*notification* hooks (``keel_after_*``, ``keel_addon_*``) are also called in
dependency order, but one addon raising is logged and the others still run.
*Lifecycle* hooks (``keel_migrate``) are called only on the addon concerned.
Hooks return data; they do not change module globals.
"""
import pluggy

hookspec = pluggy.HookspecMarker("keel")


# -- declarations (data hooks) -------------------------------------------

@hookspec
def keel_models():
    """Called when the registry is built. Return a list of model declarations
    (``core.models.Model``) and extensions (``core.models.Extend``) of models
    this addon depends on."""


@hookspec
def keel_menus():
    """Called when the addon is installed or upgraded. Return a list of menu
    items: dicts with ``key``, ``label`` and optionally ``parent`` (a key),
    ``model``, ``url`` and ``sequence``. They are stored in ``core.menu``
    and removed on uninstall."""


@hookspec
def keel_views():
    """Called when the addon is installed or upgraded. Return a list of view
    definitions: dicts with ``key``, ``model``, ``type`` (list, form, kanban,
    calendar, pivot, graph, search) and ``arch`` (a dict). They are stored in
    ``core.view`` and removed on uninstall."""


@hookspec
def keel_roles():
    """Called when the addon is installed or upgraded. Return a list of roles:
    dicts with ``code``, ``label`` and optionally ``description``. They are
    stored in ``core.role`` and removed on uninstall."""


@hookspec
def keel_workflows():
    """Called when the addon is installed or upgraded, after ``keel_roles``.
    Return a list of workflow state matrices: dicts with ``model``,
    ``field`` (the state field, char or selection), ``states`` (dicts with
    ``code``, ``label`` and optionally ``sequence``, ``folded``,
    ``terminal``; the first in order is where records start),
    ``transitions`` (dicts with ``action``, ``label``, ``from`` (a list of
    state codes, or ``"*"``: every state that is not terminal), ``to``, and
    optionally ``roles`` (role codes; empty: every role that may write the
    record), ``condition`` (a domain), ``required`` (field names) and
    ``triggers``) and ``field_modes`` (``{state: {field: "readonly" |
    "required" | "hidden"}}``) — the ``workflows:`` format of templates.
    Missing rows are created, rows the addon no longer ships removed, rows
    that exist kept as an admin may have changed them; uninstall removes
    them. See docs/workflows.md."""


@hookspec
def keel_jobs():
    """Called when the addon is installed or upgraded. Return a list of
    scheduled jobs: dicts with ``key``, ``label``, ``function`` (an import
    path ``module:callable``) and either ``cron`` (a crontab string) or
    ``interval`` (seconds), and optionally ``max_attempts`` (default 3)
    and ``retry_delay`` (seconds, default 60, doubled on each retry). They
    are stored in ``core.job`` and removed on uninstall. ``keel scheduler``
    calls the function with ``env`` in the system context, each run in one
    transaction of its own (docs/scheduler.md)."""


@hookspec
def keel_sequences():
    """Called when the addon is installed or upgraded. Return a list of named
    sequences: dicts with ``code``, ``pattern`` (e.g. ``SO{yyyy}{mm}-{seq:05}``)
    and optionally ``label``. Existing sequences keep their counters and any
    pattern an admin changed."""


@hookspec
def keel_data():
    """Called when the addon is installed or upgraded. Return a list of data
    sets, dicts with ``model``, ``key`` (the field that identifies a record)
    and ``records`` (a list of value dicts); records are created or updated
    by their key through the model API."""


@hookspec
def keel_demo_data():
    """Called when the addon is installed into a database created with demo
    data (``keel init --demo``), after ``keel_data``. Same shape as
    ``keel_data``: records are matched by their key, so installing again
    does not duplicate them."""


# -- web UI ---------------------------------------------------------------

@hookspec
def keel_workbench_cards(env):
    """Called when the workbench (``/web``) is shown, in the request's unit
    of work as the signed-in user (read through ``env``: record rules apply).
    Return a list of cards, dicts with ``key``, ``title`` (English, shown
    translated), optionally ``sequence`` (default 50; lower first), ``url``
    (a "see all" link), ``count``, ``empty`` (text when there are no items)
    and either ``items`` (dicts with ``label``, shown as given unless
    ``translate`` is true, and optionally ``url``, ``count`` and ``note``:
    a text, date or datetime) or ``template`` (a Jinja template name,
    rendered with ``card`` in its context). Return no card rather than an empty one the
    user cannot act on."""


@hookspec
def keel_blueprints():
    """Called once when the web application is created, for every addon
    found (installed or not). Return a list of Flask blueprints with pages
    of the addon's own (a merge screen, a preview); they are registered
    under their ``url_prefix`` (put them under ``/web/`` so that sign-in is
    required) and answer 404 while the addon is not installed in the
    database. Views run in a unit of work as the signed-in user with
    ``core.web.context.page``; templates extend ``web/base.html``."""


@hookspec
def keel_form_panels(env, model, record_id):
    """Called when the form of an existing record is shown, in the request's
    unit of work as the signed-in user, after the record was read (so it is
    one the user may see): ``model`` a name, ``record_id`` an integer.
    Return a list of panels shown below the form — the 360° view of a
    customer: its orders, contracts, service cases, payments — each of the
    shape of a workbench card (``keel_workbench_cards``): ``key``,
    ``title``, ``sequence``, ``count``, ``url``, ``empty``, ``items`` or
    ``template``. Read through ``env`` so that record rules apply; return
    no panel for models you do not know."""


# -- platform services ------------------------------------------------------

@hookspec
def keel_notification_channels():
    """Called when notifications are sent and delivered (once per unit of
    work). Return a list of delivery channels (SMS, fax, a work-chat app …):
    objects with ``code`` (unique, not ``inapp``), ``label`` (English, shown
    translated) and ``deliver(message)`` — ``message`` a
    ``core.services.channels.Message`` (``subject``, ``body``, ``text``,
    ``address``, ``recipient``, ``kind``, ``model``, ``record_id``,
    ``payload``, ``attempt``, ``config``); raising marks the attempt failed
    and the outbox retries it with back-off. Optional: ``default`` (true:
    used by sends naming no channels) and ``address(user)`` (where a
    user's copy goes, from ``{"id", "login", "name", "email", "lang"}``;
    ``None`` skips that user). An administrator's channel record of the
    same code wins. Deliveries run after the sending transaction committed,
    in the job ``core.notify.deliver``; see docs/notifications.md."""


@hookspec
def keel_reports():
    """Called once per registry, when the reports are first listed or run.
    Return a list of report declarations, dicts: ``key`` (unique,
    ``[a-z0-9_.-]``), ``label``, ``model``, ``dimensions`` (fields, dotted
    through many2one; dates as ``field:day|month|quarter|year``),
    ``measures`` (``field:sum|avg|min|max|count|count_distinct``, or
    ``count``) and optionally ``domain``, ``chart`` (bar, line, pie,
    funnel, table), ``compare`` (``period``: against the previous period;
    ``team``: the first dimension, a user, against their department's
    average), ``date_field``, ``period`` (all, month, quarter, year),
    ``sequence``, ``description``. Every number is computed by ``read_group``
    as the user who asks. A bad declaration is an ``AddonError`` naming the
    addon and the report key; see docs/reports.md."""


# -- workflows ------------------------------------------------------------

@hookspec
def keel_workflow_trigger(env, model, records, action, name, params):
    """Called when a transition runs a trigger of kind ``hook``: ``records``
    (a recordset of ``model``) have just moved by ``action``; ``name`` and
    ``params`` (a dict) are the trigger's. Return ``True`` when this addon
    handles ``name`` (anything else otherwise); a trigger that no addon
    handles fails the action, and raising refuses it: the whole transition
    is rolled back."""


# -- records: actions and access -------------------------------------------

@hookspec
def keel_record_actions():
    """Called once per registry, when a record's actions are first run or
    listed. Return a list of record actions besides workflow transitions
    (the lead pool's ``claim``): dicts with ``model``, ``action`` (a name
    the model's workflow does not use), ``label`` (English, shown
    translated), ``run`` (``run(records, comment, params)``: does the work
    through the model API and refuses with ``Conflict``, ``AccessDenied`` or
    ``ValidationError`` naming the reason) and optionally ``allowed``
    (``allowed(records)`` → the set of ids the caller may run it on now: the
    form's buttons, ``GET …/actions``), ``params`` (accepted parameter
    names; such actions get no form button) and ``on`` (``"read"``: the
    caller need only read the record; ``"write"``, the default: change it).
    ``records.action(name, comment, params)`` and ``POST
    /api/v1/data/MODEL/ID/actions/NAME`` run it: 404 for a record outside
    the caller's rules, 400 for an unknown action or parameter; each run is
    audited. See core/record_actions.py."""


@hookspec
def keel_record_rules(env, model):
    """Called when a user's access rules for ``model`` (a name) are compiled
    — once per user until the security version moves — with ``env`` as that
    user. Return a list of domains (JSON domain lists) whose records become
    *readable*, not writable, for a user whose roles read the model; they are
    OR'ed with the role scopes and compiled to SQL. Whatever the domains
    depend on must move the security version when it changes: declare such
    models with ``Model(..., security=True)``. Return ``[]`` for models you
    do not know."""


# -- lifecycle -----------------------------------------------------------

@hookspec
def keel_migrate(env, from_version, to_version):
    """Called on this addon only, inside the upgrade's transaction, when the
    installed version differs from the code's: after the schema follows the
    new metadata and before the addon's data is reloaded. Returns nothing;
    raising aborts the whole upgrade."""


@hookspec
def keel_addon_installed(env, addon):
    """Notification, called on every loaded addon after ``addon`` (a name)
    was installed, inside the same transaction. Returns nothing."""


@hookspec
def keel_addon_uninstalled(env, addon):
    """Notification, called on the addons that remain after ``addon`` (a
    name) was uninstalled, inside the same transaction. Returns nothing."""


# -- record events -------------------------------------------------------

@hookspec
def keel_before_create(env, model, values_list):
    """Called before records of ``model`` (a name) are inserted, with the
    list of value dicts once values are checked and defaults, computed fields
    and sequence numbers filled in; the required-field check follows, so a
    hook may fill required fields. May change the dicts in place (what it
    adds is not checked again); raise ``core.errors.ValidationError`` to
    refuse the whole batch."""


@hookspec
def keel_after_create(env, model, records):
    """Notification, called after ``records`` (a recordset) were inserted,
    in the same transaction. Returns nothing."""


@hookspec
def keel_before_write(env, model, records, values):
    """Called before ``records`` are updated with ``values`` (a dict of the
    stored fields, already checked; many2many and one2many changes are not
    in it). May change ``values`` in place; raise to refuse."""


@hookspec
def keel_after_write(env, model, records, values):
    """Notification, called after ``records`` were updated with ``values``."""


@hookspec
def keel_before_unlink(env, model, records):
    """Called before ``records`` are deleted; raise to refuse."""


@hookspec
def keel_after_unlink(env, model, ids):
    """Notification, called after the records with ``ids`` (a list of
    integers) were deleted."""
