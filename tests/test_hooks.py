"""Every hook of ``core.hookspecs``, exercised for real through test addons.

One ``test_hook_<name>`` per hook (a test below checks that the list is
complete), then the load-time checks of hook implementations.
"""
import logging

import pluggy
import pytest
import sqlalchemy as sa

from core import fields as F
from core import hookimpl
from core.db import Database
from core.errors import AddonError, ValidationError
from core.installer import Installer
from core.models import Extend, Model
from core.plugins import AddonHooks, spec_names
from tests.conftest import addon_module, available_with
from tests.test_web_shell import get, world  # noqa: F401  (a fixture)


# -- helpers -------------------------------------------------------------------

def thing_model(name="test.thing", **fields):
    return Model(name, "Thing", fields={"name": F.Char("Name", required=True),
                                        "note": F.Char("Note"), **fields})


def models_addon(name="thingy", version="1.0.0", depends=(), **attrs):
    """A test addon declaring ``test.thing``."""
    return addon_module(name, version=version, depends=depends,
                        keel_models=hookimpl(lambda: [thing_model()]), **attrs)


def setup(make_db, *modules, addons=None, demo=False):
    """An initialised database with ``modules`` available and installed."""
    names = addons if addons is not None else [m.manifest["name"] for m in modules]
    return make_db(addons=names, demo=demo, available=available_with(*modules))


def reopen(db_url, *modules):
    """Another ``Database`` on the same URL (e.g. after the code changed)."""
    return Database(db_url, available=available_with(*modules))


def run_installer(db, method, *args, **kwargs):
    with db.transaction() as conn:
        return getattr(Installer(db, conn), method)(*args, **kwargs)


def rows(db, sql, **params):
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def sweep():
    """A job function (for ``keel_jobs``)."""


def test_every_hook_has_a_test_of_its_own():
    tested = {name[len("test_hook_"):] for name in globals() if name.startswith("test_hook_")}
    assert set(spec_names()) == tested


# -- declarations ----------------------------------------------------------------

def test_hook_keel_models(make_db):
    base = models_addon("thingy")
    ext = addon_module("thingy_ext", depends=["thingy"], keel_models=hookimpl(lambda: [
        Extend("test.thing", fields={"size": F.Integer("Size")})]))
    db = setup(make_db, base, ext)
    with db.engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("test_thing")}
    assert {"id", "name", "note", "size"} <= columns
    with db.unit_of_work() as env:
        rec = env["test.thing"].create({"name": "a", "size": 3})
        assert rec.size == 3
        meta = env.registry["test.thing"]
        assert meta.addon == "thingy" and meta.extended_by == ["thingy_ext"]


def test_bad_keel_models_result_names_the_addon(make_db):
    bad = addon_module("badmodels", keel_models=hookimpl(lambda: ["not a model"]))
    with pytest.raises(AddonError, match="badmodels"):
        setup(make_db, bad)


def test_hook_keel_menus(make_db):
    menus = [{"key": "thingy", "label": "Things", "sequence": 5},
             {"key": "thingy.all", "label": "All things", "parent": "thingy", "model": "test.thing"}]
    db = setup(make_db, models_addon(keel_menus=hookimpl(lambda: menus)))
    assert rows(db, "SELECT key, label, parent, model, addon FROM core_menu WHERE addon = 'thingy' "
                    "ORDER BY key") == [("thingy", "Things", None, None, "thingy"),
                                        ("thingy.all", "All things", "thingy", "test.thing", "thingy")]


def test_hook_keel_views(make_db):
    views = [{"key": "test.thing.list", "model": "test.thing", "type": "list",
              "arch": {"fields": ["name", "note"]}}]
    db = setup(make_db, models_addon(keel_views=hookimpl(lambda: views)))
    with db.unit_of_work() as env:
        found = env["core.view"].search_read([["addon", "=", "thingy"]], ["key", "type", "arch"])
    assert [(v["key"], v["type"], v["arch"]) for v in found] == [
        ("test.thing.list", "list", {"fields": ["name", "note"]})]


def test_hook_keel_roles(make_db):
    roles = [{"code": "thing_keeper", "label": "Thing keeper", "description": "Keeps things"}]
    db = setup(make_db, models_addon(keel_roles=hookimpl(lambda: roles)))
    assert rows(db, "SELECT code, name, description, addon FROM core_role WHERE code = 'thing_keeper'") \
        == [("thing_keeper", "Thing keeper", "Keeps things", "thingy")]


def _flow_addon(name="flowy", version="1.0.0", transitions=None, **attrs):
    """``test.thing`` with a ``state`` field and a two-state workflow on it."""
    flow = {"model": "test.thing", "field": "state",
            "states": [{"code": "draft", "label": "Draft"}, {"code": "done", "label": "Done"}],
            "transitions": transitions or [{"action": "finish", "from": ["draft"], "to": "done"}]}
    return addon_module(name, version=version, keel_models=hookimpl(
        lambda: [thing_model(state=F.Char("State"))]), keel_workflows=hookimpl(lambda: [flow]), **attrs)


def test_hook_keel_workflows(make_db, db_url):
    db = setup(make_db, _flow_addon())
    assert rows(db, "SELECT code, addon FROM core_workflow_state ORDER BY sequence") == [
        ("draft", "flowy"), ("done", "flowy")]
    with db.unit_of_work() as env:
        thing = env["test.thing"].create({"name": "a"})
        assert thing.state == "draft"
        thing.action("finish")
        assert thing.state == "done"
    # a new version ships one more transition: it is added, the rest kept
    newer = _flow_addon(version="1.1.0", transitions=[
        {"action": "finish", "from": ["draft"], "to": "done"},
        {"action": "reopen", "from": ["done"], "to": "draft"}])
    db2 = reopen(db_url, newer)
    run_installer(db2, "upgrade")
    assert rows(db2, "SELECT action FROM core_workflow_transition ORDER BY sequence") == [
        ("finish",), ("reopen",)]
    run_installer(db2, "uninstall", ["flowy"])
    assert rows(db2, "SELECT count(*) FROM core_workflow_state") == [(0,)]
    assert rows(db2, "SELECT count(*) FROM core_workflow_transition") == [(0,)]
    db2.dispose()


def test_hook_keel_workflow_trigger(make_db):
    calls = []

    @hookimpl
    def keel_workflow_trigger(env, model, records, action, name, params):
        if name != "stamp":
            return None
        calls.append((model, list(records.ids), action, params["note"]))
        records.env.sudo()[model].browse(records.ids).write({"note": params["note"]})
        return True

    addon = _flow_addon(keel_workflow_trigger=keel_workflow_trigger, transitions=[
        {"action": "finish", "from": ["draft"], "to": "done",
         "triggers": [{"kind": "hook", "name": "stamp", "note": "stamped"}]},
        {"action": "skip", "from": ["draft"], "to": "done",
         "triggers": [{"kind": "hook", "name": "nobody_handles_this"}]}])
    db = setup(make_db, addon)
    with db.unit_of_work() as env:
        thing = env["test.thing"].create({"name": "a"})
        thing.action("finish")
        assert calls == [("test.thing", [thing.id], "finish", "stamped")]
        assert thing.note == "stamped"
    with pytest.raises(AddonError, match="nobody_handles_this"):
        with db.unit_of_work() as env:
            env["test.thing"].create({"name": "b"}).action("skip")


def test_hook_keel_jobs(make_db):
    jobs = [{"key": "thingy.sweep", "label": "Sweep", "function": "tests.test_hooks:sweep",
             "cron": "0 3 * * *"},
            {"key": "thingy.poll", "label": "Poll", "function": "tests.test_hooks:sweep",
             "interval": 60}]
    db = setup(make_db, models_addon(keel_jobs=hookimpl(lambda: jobs)))
    assert rows(db, "SELECT key, cron, interval, addon FROM core_job WHERE addon = 'thingy' ORDER BY key") == [
        ("thingy.poll", None, 60, "thingy"), ("thingy.sweep", "0 3 * * *", None, "thingy")]


def test_hook_keel_sequences(make_db, db_url):
    def module(version):
        return addon_module(
            "thingy", version=version,
            keel_models=hookimpl(lambda: [thing_model(ref=F.Char("Ref", sequence="thingy.ref"))]),
            keel_sequences=hookimpl(lambda: [{"code": "thingy.ref", "label": "Thing ref",
                                               "pattern": "T{seq:03}"}]))
    db = setup(make_db, module("1.0.0"))
    with db.unit_of_work() as env:
        assert [env["test.thing"].create({"name": n}).ref for n in "ab"] == ["T001", "T002"]
        seq = env["core.sequence"].search([["code", "=", "thingy.ref"]])
        assert (seq.name, seq.addon) == ("Thing ref", "thingy")
        seq.write({"pattern": "X{seq:04}"})  # an admin's change
    other = reopen(db_url, module("1.1.0"))
    run_installer(other, "upgrade", ["thingy"])
    with other.unit_of_work() as env:  # pattern and counter survive the upgrade
        assert env["test.thing"].create({"name": "c"}).ref == "X0003"
    other.dispose()


def test_hook_keel_data(make_db, db_url):
    def module(version, records):
        return models_addon(version=version, keel_data=hookimpl(lambda: [
            {"model": "test.thing", "key": "name", "records": records}]))
    db = setup(make_db, module("1.0.0", [{"name": "one", "note": "first"}, {"name": "two"}]))
    with db.unit_of_work() as env:
        assert sorted((r["name"], r["note"]) for r in env["test.thing"].search_read([], ["name", "note"])) \
            == [("one", "first"), ("two", None)]
    other = reopen(db_url, module("1.0.1", [{"name": "one", "note": "changed"}, {"name": "three"}]))
    run_installer(other, "upgrade", ["thingy"])
    with other.unit_of_work() as env:  # updated by key, not duplicated
        assert sorted((r["name"], r["note"]) for r in env["test.thing"].search_read([], ["name", "note"])) \
            == [("one", "changed"), ("three", None), ("two", None)]
    other.dispose()


def test_hook_keel_demo_data(make_db, db_url):
    def module(version):
        return models_addon(version=version, keel_demo_data=hookimpl(lambda: [
            {"model": "test.thing", "key": "name", "records": [{"name": "demo thing"}]}]))
    db = setup(make_db, module("1.0.0"), demo=True)
    with db.unit_of_work() as env:
        things = env["test.thing"].search([])
        assert [t.name for t in things] == ["demo thing"]
        things.unlink()  # a user removes the demo record...
    other = reopen(db_url, module("1.1.0"))
    run_installer(other, "upgrade", ["thingy"])
    with other.unit_of_work() as env:  # ...and an upgrade does not bring it back
        assert env["test.thing"].search_count([]) == 0
    other.dispose()


def test_keel_demo_data_not_loaded_without_demo(make_db):
    calls = []
    db = setup(make_db, models_addon(keel_demo_data=hookimpl(lambda: calls.append("demo") or [])))
    assert calls == []
    with db.unit_of_work() as env:
        assert env["test.thing"].search_count([]) == 0


# -- lifecycle --------------------------------------------------------------------

def test_hook_keel_migrate(make_db, db_url):
    calls = []

    def module(name, version, depends=()):
        def keel_migrate(env, from_version, to_version):
            calls.append((name, from_version, to_version, env.su, "test.thing" in env))
        return addon_module(name, version=version, depends=depends, keel_migrate=hookimpl(keel_migrate),
                            **({"keel_models": hookimpl(lambda: [thing_model()])} if name == "mig_a" else {}))
    setup(make_db, module("mig_a", "1.0.0"), module("mig_b", "2.0.0", ["mig_a"]))
    assert calls == []  # not on install
    other = reopen(db_url, module("mig_a", "1.2.0"), module("mig_b", "2.0.0", ["mig_a"]))
    assert run_installer(other, "upgrade") == [("mig_a", "1.0.0", "1.2.0")]
    assert calls == [("mig_a", "1.0.0", "1.2.0", True, True)]  # only the addon whose version moved
    assert rows(other, "SELECT name, addon_version FROM core_addon WHERE name LIKE 'mig%' ORDER BY name") \
        == [("mig_a", "1.2.0"), ("mig_b", "2.0.0")]
    other.dispose()


def test_hook_keel_addon_installed(make_db, db_url):
    calls = []

    def keel_addon_installed(env, addon):
        # inside the install's transaction: the new addon's model is there
        calls.append(("watcher", addon, "test.thing" in env and env["test.thing"].search_count([])))
    watcher = addon_module("watcher", keel_addon_installed=hookimpl(keel_addon_installed))
    newcomer = models_addon("thingy", keel_addon_installed=hookimpl(
        lambda addon: calls.append(("thingy", addon, None))),
        keel_data=hookimpl(lambda: [{"model": "test.thing", "key": "name", "records": [{"name": "x"}]}]))
    db = setup(make_db, watcher, newcomer, addons=["watcher"])
    calls.clear()
    run_installer(db, "install", ["thingy"])
    # every loaded addon, the newcomer included, in dependency order (peers by name)
    assert calls == [("thingy", "thingy", None), ("watcher", "thingy", 1)]


def test_hook_keel_addon_uninstalled(make_db):
    calls = []
    watcher = addon_module("watcher", keel_addon_uninstalled=hookimpl(
        lambda env, addon: calls.append(("watcher", addon, "test.thing" in env))))
    leaver = models_addon("thingy", keel_addon_uninstalled=hookimpl(
        lambda addon: calls.append(("thingy", addon))))
    db = setup(make_db, watcher, leaver)
    run_installer(db, "uninstall", ["thingy"])
    # called on the addons that remain, with the registry without the leaver
    assert calls == [("watcher", "thingy", False)]


# -- record events ----------------------------------------------------------------

def test_hook_keel_before_create(make_db):
    seen = []

    def keel_before_create(env, model, values_list):
        seen.append((model, [dict(v) for v in values_list]))
        for values in values_list:
            if values["name"] == "refused":
                raise ValidationError("no refused things")
            values["note"] = "set by hook"
    db = setup(make_db, models_addon(keel_before_create=hookimpl(keel_before_create)))
    with db.unit_of_work() as env:
        seen.clear()
        recs = env["test.thing"].create([{"name": "a"}, {"name": "b", "note": "mine"}])
        assert [r.note for r in recs] == ["set by hook", "set by hook"]
        assert seen == [("test.thing", [{"name": "a"}, {"name": "b", "note": "mine"}])]
        with pytest.raises(ValidationError, match="no refused things"):
            env["test.thing"].create([{"name": "c"}, {"name": "refused"}])
        assert env["test.thing"].search_count([]) == 2  # the whole batch refused


def test_hook_keel_after_create(make_db):
    calls = []
    db = setup(make_db, models_addon(keel_after_create=hookimpl(
        lambda env, model, records: calls.append((model, list(records.ids), sorted(r.name for r in records))))))
    with db.unit_of_work() as env:
        calls.clear()
        recs = env["test.thing"].create([{"name": "a"}, {"name": "b"}])
        env["core.department"].create({"code": "D1", "name": "Dept"})
    assert calls[0] == ("test.thing", list(recs.ids), ["a", "b"])
    assert [c[0] for c in calls] == ["test.thing", "core.department"]


def test_hook_keel_before_write(make_db):
    calls = []

    def keel_before_write(env, model, records, values):
        calls.append((model, list(records.ids), dict(values)))
        if values.get("note") == "forbidden":
            raise ValidationError("note may not be forbidden")
        if "note" in values:
            values["note"] = values["note"].upper()
    db = setup(make_db, models_addon(keel_before_write=hookimpl(keel_before_write)))
    with db.unit_of_work() as env:
        rec = env["test.thing"].create({"name": "a"})
        rec.write({"note": "hello"})
        assert calls == [("test.thing", [rec.id], {"note": "hello"})]
        assert env["test.thing"].browse([rec.id]).read(["note"])[0]["note"] == "HELLO"
        with pytest.raises(ValidationError):
            rec.write({"note": "forbidden"})
        assert env["test.thing"].browse([rec.id]).read(["note"])[0]["note"] == "HELLO"


def test_hook_keel_after_write(make_db):
    calls = []
    db = setup(make_db, models_addon(keel_after_write=hookimpl(
        lambda model, records, values: calls.append((model, list(records.ids), dict(values))))))
    with db.unit_of_work() as env:
        recs = env["test.thing"].create([{"name": "a"}, {"name": "b"}])
        recs.write({"note": "n"})
    assert calls == [("test.thing", list(recs.ids), {"note": "n"})]


def test_hook_keel_before_unlink(make_db):
    calls = []

    def keel_before_unlink(env, model, records):
        calls.append((model, list(records.ids)))
        if any(r.name == "keep" for r in records):
            raise ValidationError("keep stays")
    db = setup(make_db, models_addon(keel_before_unlink=hookimpl(keel_before_unlink)))
    with db.unit_of_work() as env:
        gone, kept = env["test.thing"].create([{"name": "gone"}, {"name": "keep"}])
        gone.unlink()
        with pytest.raises(ValidationError, match="keep stays"):
            kept.unlink()
        assert [r.name for r in env["test.thing"].search([])] == ["keep"]
    assert calls == [("test.thing", [gone.id]), ("test.thing", [kept.id])]


def test_hook_keel_after_unlink(make_db):
    calls = []
    db = setup(make_db, models_addon(keel_after_unlink=hookimpl(
        lambda env, model, ids: calls.append((model, ids, list(env["test.thing"].browse(ids).exists().ids))))))
    with db.unit_of_work() as env:
        recs = env["test.thing"].create([{"name": "a"}, {"name": "b"}])
        recs.unlink()
    assert calls == [("test.thing", list(recs.ids), [])]


# -- calling order and failures -------------------------------------------------------

def test_data_hooks_run_in_dependency_order_not_registration_order(make_db):
    """``aa_child`` depends on ``zz_parent``: alphabetical order, pluggy's
    LIFO order and registration order would all put the child first."""
    order = []

    def before(tag):
        def keel_before_create(model, values_list):
            order.append(tag)
            for values in values_list:
                values["note"] = (values.get("note") or "") + tag
        return keel_before_create
    parent = models_addon("zz_parent", keel_before_create=hookimpl(before("P")),
                          keel_data=hookimpl(lambda: [{"model": "test.thing", "key": "name",
                                                       "records": [{"name": "from parent"}]}]))
    child = addon_module("aa_child", depends=["zz_parent"], keel_before_create=hookimpl(before("C")),
                         keel_models=hookimpl(lambda: [Extend("test.thing", fields={"x": F.Char("X")})]))
    db = setup(make_db, child, parent, addons=["aa_child"])  # the dependent is named first
    with db.unit_of_work() as env:
        assert env.registry.addon_names[-2:] == ["zz_parent", "aa_child"]
        order.clear()
        assert env["test.thing"].create({"name": "n"}).note == "PC"
        assert order == ["P", "C"]
        # the kernel's own addon (base) comes first, before every other
        assert [a for a, _ in env.registry.hooks.gather("keel_before_create", env=env, model="m",
                                                         values_list=[])] == ["base", "zz_parent", "aa_child"]


def test_notification_hook_failure_is_logged_and_the_others_run(make_db, caplog):
    calls = []

    def boom(env, model, records):
        raise RuntimeError("kaboom")
    first = models_addon("first", keel_after_create=hookimpl(boom))
    second = addon_module("second", depends=["first"], keel_after_create=hookimpl(
        lambda model, records: calls.append(model)))
    db = setup(make_db, first, second)
    calls.clear()
    with caplog.at_level(logging.ERROR, logger="core.plugins"):
        with db.unit_of_work() as env:
            env["test.thing"].create({"name": "a"})
    assert calls == ["test.thing"]
    failures = [r for r in caplog.records if "keel_after_create" in r.getMessage()]
    assert failures and "'first'" in failures[0].getMessage()
    assert "kaboom" in caplog.text
    with db.unit_of_work() as env:  # the record was committed all the same
        assert env["test.thing"].search_count([]) == 1


def test_failing_data_hook_raises_addon_error_naming_the_addon(make_db):
    def keel_menus():
        raise RuntimeError("menus exploded")
    bad = models_addon("badmenus", keel_menus=hookimpl(keel_menus))
    with pytest.raises(AddonError) as err:
        setup(make_db, bad)
    assert "'badmenus'" in str(err.value) and "keel_menus" in str(err.value) and "menus exploded" in str(err.value)


def test_failing_before_hook_names_the_addon(make_db):
    def keel_before_create(model, values_list):
        if model == "core.department":
            raise KeyError("oops")
    db = setup(make_db, models_addon("grumpy", keel_before_create=hookimpl(keel_before_create)))
    with db.unit_of_work() as env:
        with pytest.raises(AddonError, match="'grumpy'.*keel_before_create"):
            env["core.department"].create({"code": "D", "name": "D"})


# -- load-time checks ----------------------------------------------------------------

def load(module):
    return AddonHooks([(module.manifest["name"], module)])


def test_unknown_hook_name_fails_at_load_naming_the_addon():
    module = addon_module("typo_hook", keel_model=hookimpl(lambda: []))
    with pytest.raises(AddonError) as err:
        load(module)
    assert "'typo_hook'" in str(err.value) and "keel_model" in str(err.value)


def test_unknown_parameter_fails_at_load_naming_the_addon():
    module = addon_module("bad_param", keel_after_create=hookimpl(lambda env, model, recs: None))
    with pytest.raises((AddonError, pluggy.PluginValidationError)) as err:
        load(module)
    assert "'bad_param'" in str(err.value) and "recs" in str(err.value)
    assert "\n" not in str(err.value)  # the CLI prints it on one line


def test_parameter_with_default_fails_at_load_naming_the_addon():
    def keel_after_write(env, model, records, values=None):
        pass
    with pytest.raises(AddonError) as err:
        load(addon_module("with_default", keel_after_write=hookimpl(keel_after_write)))
    assert "'with_default'" in str(err.value) and "values" in str(err.value)


def test_keyword_only_parameter_fails_at_load_naming_the_addon():
    def keel_after_write(env, model, *, records):
        pass
    with pytest.raises(AddonError) as err:
        load(addon_module("kw_only", keel_after_write=hookimpl(keel_after_write)))
    assert "'kw_only'" in str(err.value) and "records" in str(err.value)


def test_wrapper_hook_fails_at_load_naming_the_addon():
    def keel_after_write(env, model, records, values):
        yield
    with pytest.raises(AddonError) as err:
        load(addon_module("wrapping", keel_after_write=hookimpl(wrapper=True)(keel_after_write)))
    assert "'wrapping'" in str(err.value) and "wrapper" in str(err.value)


def test_bad_hook_fails_the_install_and_leaves_the_database_alone(make_db, db_url):
    db = make_db(addons=[])
    bad = addon_module("bad_param", keel_after_create=hookimpl(lambda env, model, recs: None))
    other = reopen(db_url, bad)
    before = rows(other, "SELECT name, state FROM core_addon ORDER BY name")
    with pytest.raises(AddonError, match="bad_param"):
        run_installer(other, "install", ["bad_param"])
    assert rows(other, "SELECT name, state FROM core_addon ORDER BY name") == before
    other.dispose()
    db.dispose()


def test_kernel_passes_exactly_the_spec_parameters():
    hooks = load(addon_module("plain"))
    with pytest.raises(TypeError):
        hooks.gather("keel_before_create", env=None, model="m")


# the workbench's cards need the web UI's world (tests/test_web_shell.py)
def test_hook_keel_workbench_cards(world):
    html = get(world, "/web")
    card = html.split('id="card-wb-items"')[1].split("</section>")[0]
    assert "Workbench test card" in card and '<span class="badge">7</span>' in card
    assert '<a href="/web/crm.customer/1">第一项</a>' in card and '<span class="badge">2</span>' in card
    assert "Mar 5, 2026" in card  # a date note, formatted
    assert 'href="/web/crm.customer">See all' in card
    # cards by sequence: the test card (1) before the CRM one (5), the template one last
    assert html.index("card-wb-items") < html.index("card-crm-followups") < html.index("card-wb-tpl")
    assert "Back to the workbench" in html.split('id="card-wb-tpl"')[1]  # its template, drawn


def test_hook_keel_notification_channels(make_db, db_url, tmp_path):
    from core.config import load_config
    from core.services import notify
    delivered = []

    class Fax:
        code, label, default = "fax", "Fax", False

        def address(self, user):
            return f"fax:{user['login']}"

        def deliver(self, message):
            delivered.append((message.address, message.subject, message.record_id))

    module = addon_module("faxing", keel_notification_channels=hookimpl(lambda: [Fax()]))
    db = setup(make_db, module)
    with db.unit_of_work("admin") as env:
        assert "fax" in notify.available_channels(env)
        assert notify.send(env, ["admin"], "传真通知", channels=["fax"], record=("core.user", env.uid)) \
            == {"notifications": 1, "outbox": 1}
        uid = env.uid
    with db.unit_of_work(None, context={"config": load_config(environ={}, data_dir=str(tmp_path))}) as env:
        assert notify.deliver(env)["sent"] == 1
    assert delivered == [("fax:admin", "传真通知", uid)]
    bad = addon_module("badfax", keel_notification_channels=hookimpl(lambda: [object()]))
    other = reopen(db_url, module, bad)
    run_installer(other, "install", ["badfax"])
    with other.unit_of_work("admin") as env, pytest.raises(AddonError, match="'badfax'.*deliver"):
        notify.send(env, ["admin"], "x", channels=["fax"])
    other.dispose()


def test_hook_keel_reports(make_db, db_url):
    from core.services import reports
    declared = [{"key": "test.things_by_note", "label": "Things by note", "model": "test.thing",
                 "dimensions": ["note"], "measures": ["count"], "chart": "pie"}]
    db = setup(make_db, models_addon(keel_reports=hookimpl(lambda: declared)))
    with db.unit_of_work("admin") as env:
        env["test.thing"].create([{"name": "a", "note": "红"}, {"name": "b", "note": "红"},
                                  {"name": "c", "note": "蓝"}])
        assert reports.catalogue(env.registry)["test.things_by_note"].addon == "thingy"
        result = reports.run(env, "test.things_by_note")
    assert {row["labels"][0]: row["values"]["id:count"] for row in result.rows} == {"红": 2, "蓝": 1}
    # a bad declaration fails loudly, naming the addon and the report
    bad = [{**declared[0], "measures": ["note:sum"]}]
    other = reopen(db_url, models_addon(keel_reports=hookimpl(lambda: bad)))
    with other.unit_of_work("admin") as env:
        with pytest.raises(AddonError, match="addon 'thingy': report 'test.things_by_note': .*sum needs"):
            reports.visible(env)
    other.dispose()


def test_hook_keel_blueprints(make_db):
    """An addon's own pages: registered when the app is created, run as the
    signed-in user, and 404 while the addon is not installed."""
    from flask import Blueprint

    from core.app import create_app
    from core.config import load_config
    from core.web.context import page
    from tests.conftest import ADMIN_PASSWORD
    from tests.web_helpers import sign_in

    bp = Blueprint("pagey", __name__, url_prefix="/web/pagey")

    @bp.get("/hello")
    @page
    def hello(env):
        return f"hello {env.user_values()['login']}: {env['test.thing'].search_count([])} things"

    module = models_addon("pagey", keel_blueprints=hookimpl(lambda: [bp]))
    idle = Blueprint("idle", __name__, url_prefix="/web/idle")
    idle.add_url_rule("/x", "x", lambda: "idle page")
    other = addon_module("idle", keel_blueprints=hookimpl(lambda: [idle]))
    db = make_db(addons=["pagey"], available=available_with(module, other))
    url = db.engine.url.render_as_string(hide_password=False)
    app = create_app(load_config(environ={}, database_url=url, secret_key="k"), db=db)
    assert app.test_client().get("/web/pagey/hello").status_code == 302  # signed out: to the login
    client = sign_in(app, "admin", ADMIN_PASSWORD)
    answer = client.get("/web/pagey/hello")
    assert answer.status_code == 200 and answer.get_data(as_text=True) == "hello admin: 0 things"
    assert "idle" in app.blueprints
    assert client.get("/web/idle/x").status_code == 404  # found, not installed


def test_hook_keel_form_panels(make_db):
    """Panels below a record's form (the 360° view): drawn for the record
    shown, read as the signed-in user; none for other models."""
    from core.app import create_app
    from core.config import load_config
    from tests.conftest import ADMIN_PASSWORD
    from tests.web_helpers import sign_in

    seen = []

    def panels(env, model, record_id):
        seen.append((model, record_id, env.uid))
        if model != "test.thing":
            return []
        names = env["test.thing"].search_read([["id", "!=", record_id]], ["name"], order="name")
        return [{"key": "pany.others", "title": "Other things", "sequence": 2, "count": len(names),
                 "items": [{"label": r["name"], "url": f"/web/test.thing/{r['id']}"} for r in names]},
                {"key": "pany.empty", "title": "Nothing at all", "sequence": 1, "empty": "Empty here."}]

    module = models_addon("pany", keel_form_panels=hookimpl(panels))
    db = make_db(addons=["pany"], available=available_with(module))
    with db.unit_of_work("admin") as env:
        first, second = env["test.thing"].create([{"name": "甲"}, {"name": "乙"}]).ids
    url = db.engine.url.render_as_string(hide_password=False)
    app = create_app(load_config(environ={}, database_url=url, secret_key="k"), db=db)
    client = sign_in(app, "admin", ADMIN_PASSWORD)
    html = client.get(f"/web/test.thing/{first}").get_data(as_text=True)
    block = html.split('id="form-panels"')[1]
    assert block.index("Nothing at all") < block.index("Other things")  # by sequence
    assert f'<a href="/web/test.thing/{second}">乙</a>' in block and "Empty here." in block
    assert ("test.thing", first) == seen[-1][:2]
    assert 'id="form-panels"' not in client.get("/web/test.thing/new").get_data(as_text=True)


def test_hook_keel_record_actions(make_db):
    """An addon's record action runs through ``records.action`` (audited),
    is listed by ``allowed_actions`` and refuses a record outside the
    caller's rules as missing."""
    from core.errors import NotFound

    def stamp(records, comment, params):
        records.write({"note": f"{comment}:{params.get('n')}"})

    actions = [{"model": "test.thing", "action": "stamp", "label": "Stamp", "run": stamp,
                "params": ["n"]}]
    module = models_addon("stampy", keel_record_actions=hookimpl(lambda: actions))
    db = setup(make_db, module)
    with db.unit_of_work("admin") as env:
        thing = env["test.thing"].create({"name": "甲"})
        assert thing.allowed_actions()[thing.id] == ["stamp"]
        assert thing.action("stamp", "盖章", {"n": 2})[0].ran
        assert thing.read(["note"])[0]["note"] == "盖章:2"
        with pytest.raises(NotFound):
            env["test.thing"].browse(thing.id + 100).action("stamp")
    assert rows(db, "SELECT action FROM core_audit WHERE model = 'test.thing' AND action = 'action'") \
        == [("action",)]


def test_hook_keel_record_rules(make_db):
    """Domains from addons OR'ed into a user's read rules, for users whose
    roles read the model: readable, not writable."""
    from core.errors import NotFound

    def record_rules(env, model):
        return [[["name", "like", "公开%"]]] if model == "crm.customer" else []

    module = addon_module("ruley", depends=["crm_base"], keel_record_rules=hookimpl(record_rules))
    db = setup(make_db, module, addons=["crm_base", "ruley"])
    from tests.test_api_security import create_personas
    users = create_personas(db)
    with db.unit_of_work(users["R1"]) as env:
        public, private = env["crm.customer"].create([{"name": "公开客户"}, {"name": "私有客户"}]).ids
    with db.unit_of_work(users["R3"]) as env:
        assert list(env["crm.customer"].search([["id", "in", [public, private]]]).ids) == [public]
        with pytest.raises(NotFound):  # readable only: not writable
            env["crm.customer"].browse(public).write({"city": "上海"})
