"""Editions (CONTRACT.md §5): addon sets from ``config/editions.toml``,
installed by ``keel init --edition`` and changed by ``keel edition set``.

The commands run in-process through ``core.cli.main`` (the subprocess runs
are in ``test_cli.py``), with test addons standing in for the edition
addons that do not exist yet.
"""
import json

import pytest
import sqlalchemy as sa

from core import addons as addons_mod
from core import cli
from core import hookimpl
from core.addons import discover
from core.editions import edition_addons, load_editions
from core.errors import UserInputError
from tests.conftest import ADMIN_PASSWORD, addon_module, available_with

LITE = ["crm_base", "sales", "workspace", "marketing"]
STANDARD = LITE + ["purchase", "service", "expense"]
ENHANCED = STANDARD + ["channel", "contract", "project", "stock", "training"]


def test_editions_toml_follows_the_contract():
    editions = load_editions()
    assert list(editions) == ["lite", "standard", "enhanced"]
    assert editions["lite"]["addons"] == LITE
    assert editions["standard"]["addons"] == STANDARD
    assert editions["enhanced"]["addons"] == ENHANCED
    names = list(editions)
    for smaller, larger in zip(names, names[1:]):  # each holds the one before it
        assert set(editions[smaller]["addons"]) < set(editions[larger]["addons"])


def test_editions_are_closed_under_dependencies():
    available = discover()
    editions = load_editions()
    for name, data in editions.items():
        for addon in data["addons"]:
            if addon in available:
                missing = set(available[addon].depends) - {"base"} - set(data["addons"])
                assert not missing, f"{addon} of edition {name} depends on {missing}"


def test_edition_addons_splits_present_and_missing():
    present, missing = edition_addons("lite", discover())
    assert present == ["crm_base", "sales"]
    assert missing == ["workspace", "marketing"]
    with pytest.raises(UserInputError, match="unknown edition 'gold'"):
        edition_addons("gold", discover())


# -- the commands, with stand-in addons ------------------------------------------------

@pytest.fixture
def stand_ins(monkeypatch):
    """``purchase`` (standard, depending on ``helper_lib`` outside every
    edition), ``marketing`` (lite) and ``extra`` (no edition)."""
    modules = [
        addon_module("helper_lib"),
        addon_module("purchase", depends=["sales", "helper_lib"], keel_menus=hookimpl(
            lambda: [{"key": "purchase", "label": "Purchase"}])),
        addon_module("marketing", depends=["crm_base"]),
        addon_module("extra"),
    ]
    found = available_with(*modules)
    monkeypatch.setattr(addons_mod, "discover", lambda: found)
    return found


def keel(capsys, db_url, *args):
    code = cli.main(["--db", db_url, *args])
    out, err = capsys.readouterr()
    return code, out, err


def installed(db_url):
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(sa.text("SELECT name FROM core_addon WHERE state = 'installed'")).scalars())
    finally:
        engine.dispose()


def edition_of(db_url):
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT value FROM core_meta WHERE key = 'edition'")).scalar()
    finally:
        engine.dispose()


def test_init_lite_installs_exactly_the_available_addons_and_warns(stand_ins, db_url, capsys):
    code, out, err = keel(capsys, db_url, "init", "--edition", "lite", "--admin-password", ADMIN_PASSWORD)
    assert code == 0, err
    assert installed(db_url) == {"base", "crm_base", "sales", "marketing"}
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "'workspace'" in warnings[0] and "lite" in warnings[0]
    assert edition_of(db_url) == "lite"


def test_init_standard_pulls_dependencies_and_warns_for_each_missing(stand_ins, db_url, capsys):
    code, out, err = keel(capsys, db_url, "init", "--edition", "standard",
                          "--admin-password", ADMIN_PASSWORD)
    assert code == 0, err
    # helper_lib belongs to no edition but purchase needs it; extra stays out
    assert installed(db_url) == {"base", "crm_base", "sales", "marketing", "purchase", "helper_lib"}
    for name in ("workspace", "service", "expense"):
        assert sum(f"'{name}'" in line for line in err.splitlines()) == 1, (name, err)
    assert "'purchase'" not in err and "'marketing'" not in err
    assert "Traceback" not in err


def test_init_default_edition_is_standard(stand_ins, db_url, capsys):
    code, out, err = keel(capsys, db_url, "init", "--admin-password", ADMIN_PASSWORD)
    assert code == 0, err
    assert "purchase" in installed(db_url)
    assert edition_of(db_url) == "standard"


def test_edition_set_larger_installs(stand_ins, db_url, capsys):
    assert keel(capsys, db_url, "init", "--edition", "lite", "--admin-password", ADMIN_PASSWORD)[0] == 0
    code, out, err = keel(capsys, db_url, "edition", "set", "standard")
    assert code == 0, err
    assert installed(db_url) == {"base", "crm_base", "sales", "marketing", "purchase", "helper_lib"}
    assert "purchase" in out and "'service'" in err
    assert edition_of(db_url) == "standard"


def test_edition_set_smaller_needs_yes_and_keeps_data(stand_ins, db_url, capsys):
    assert keel(capsys, db_url, "init", "--edition", "standard", "--admin-password", ADMIN_PASSWORD)[0] == 0
    assert keel(capsys, db_url, "addons", "install", "extra")[0] == 0
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        before = sorted(tuple(r) for r in conn.execute(sa.text("SELECT name, state FROM core_addon")))
    code, out, err = keel(capsys, db_url, "edition", "set", "lite")
    assert code == 1
    assert len(err.strip().splitlines()) == len([l for l in err.splitlines() if l.startswith("warning:")]) + 1
    assert "--yes" in err and "purchase" in err and "Traceback" not in err
    with engine.connect() as conn:
        assert sorted(tuple(r) for r in conn.execute(sa.text("SELECT name, state FROM core_addon"))) == before
    assert edition_of(db_url) == "standard"

    code, out, err = keel(capsys, db_url, "edition", "set", "lite", "--yes")
    assert code == 0, err
    # what lite lacks goes (purchase, its helper, the addon outside every edition)
    assert installed(db_url) == {"base", "crm_base", "sales", "marketing"}
    assert "data kept" in out
    assert edition_of(db_url) == "lite"
    with engine.connect() as conn:  # uninstalled, not purged
        assert dict(conn.execute(sa.text("SELECT name, state FROM core_addon")).all())["purchase"] == "uninstalled"
        assert conn.execute(sa.text("SELECT count(*) FROM core_menu WHERE addon = 'purchase'")).scalar() == 0
    engine.dispose()


def test_edition_set_unknown_is_a_usage_error(stand_ins, db_url, capsys):
    assert keel(capsys, db_url, "init", "--edition", "lite", "--admin-password", ADMIN_PASSWORD)[0] == 0
    code, out, err = keel(capsys, db_url, "edition", "set", "gold")
    assert code == 2 and "Traceback" not in err
    assert edition_of(db_url) == "lite"


def test_edition_show(stand_ins, db_url, capsys):
    assert keel(capsys, db_url, "init", "--edition", "lite", "--admin-password", ADMIN_PASSWORD)[0] == 0
    code, out, err = keel(capsys, db_url, "edition", "show")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "edition: lite"
    current = [line for line in lines if line.startswith("*")]
    assert len(current) == 1 and "lite" in current[0] and "workspace (not available)" in current[0]
    code, out, err = keel(capsys, db_url, "edition", "show", "--json")
    rows = json.loads(out)
    assert [r["name"] for r in rows] == ["lite", "standard", "enhanced"]
    assert [r["current"] for r in rows] == [True, False, False]
    lite = {a["name"]: a for a in rows[0]["addons"]}
    assert lite["sales"] == {"name": "sales", "available": True, "installed": True}
    assert lite["workspace"] == {"name": "workspace", "available": False, "installed": False}
    standard = {a["name"]: a for a in rows[1]["addons"]}
    assert standard["purchase"] == {"name": "purchase", "available": True, "installed": False}
