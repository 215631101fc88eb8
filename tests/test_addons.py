"""Addon discovery, manifests and the dependency graph."""
import importlib
import sys
import textwrap

import pytest

from core.addons import (BASE, dependency_order, dependents, discover, manifest_of,
                         with_dependencies)
from core.errors import AddonError
from tests.conftest import addon_module


def graph(**deps):
    """Manifests for a dependency graph given as ``name=[depends]``."""
    return {name: manifest_of(addon_module(name, depends=d), "test") for name, d in deps.items()} | {
        BASE: discover()[BASE]}


def test_discover_finds_kernel_and_shipped_addons():
    found = discover()
    assert {"base", "crm_base", "sales"} <= set(found)
    assert found["sales"].depends == ("base", "crm_base")
    assert found["crm_base"].origin == "addons"
    assert found["base"].origin == "kernel"
    assert found["crm_base"].version == "0.4.0"


def installed_distribution(tmp_path, monkeypatch, package, version, entry_point, init):
    """A real installed distribution on sys.path: a package and a dist-info
    whose entry point ``entry_point`` (in ``keel.addons``) names it."""
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text(textwrap.dedent(init))
    dist = tmp_path / f"{package}-{version}.dist-info"
    dist.mkdir()
    name = package.replace("_", "-")
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (dist / "entry_points.txt").write_text(f"[keel.addons]\n{entry_point} = {package}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()


def test_discover_reads_entry_points_of_installed_distributions(tmp_path, monkeypatch):
    installed_distribution(tmp_path, monkeypatch, "keel_ext_helpdesk", "2.1.0", "helpdesk", """
        manifest = {"name": "helpdesk", "version": "2.1.0", "depends": ["crm_base"],
                    "summary": "Tickets", "category": "Service"}
    """)
    found = discover()
    assert found["helpdesk"].module == "keel_ext_helpdesk"
    assert found["helpdesk"].depends == ("base", "crm_base")
    assert "keel-ext-helpdesk" in found["helpdesk"].origin
    sys.modules.pop("keel_ext_helpdesk", None)


def test_entry_point_name_must_match_manifest(tmp_path, monkeypatch):
    installed_distribution(tmp_path, monkeypatch, "keel_ext_bad", "1.0", "badname",
                           'manifest = {"name": "other", "version": "1.0"}\n')
    with pytest.raises(AddonError, match="'other' differs from its entry point 'badname'"):
        discover()
    sys.modules.pop("keel_ext_bad", None)


def test_manifest_is_checked():
    module = addon_module("nov")
    del module.manifest["version"]
    with pytest.raises(AddonError, match="lacks 'version'"):
        manifest_of(module, "test")
    module = addon_module("typo", colour="red")
    module.manifest["dependz"] = ["x"]
    with pytest.raises(AddonError, match="unknown manifest keys"):
        manifest_of(module, "test")
    with pytest.raises(AddonError, match="bad version"):
        manifest_of(addon_module("badver", version="one"), "test")


def test_every_addon_depends_on_base():
    g = graph(a=[])
    assert g["a"].depends == ("base",)


def test_with_dependencies_pulls_dependencies_in_order():
    g = graph(a=[], b=["a"], c=["b", "a"])
    assert with_dependencies(g, ["c"]) == ["base", "a", "b", "c"]
    assert dependency_order(g, {"c", "a", "b", "base"}) == ["base", "a", "b", "c"]


def test_missing_dependency_names_the_chain():
    g = graph(a=["b"], b=["ghost"])
    with pytest.raises(AddonError) as err:
        with_dependencies(g, ["a"])
    assert "a -> b -> ghost" in str(err.value)


def test_cycle_names_the_chain():
    g = graph(a=["b"], b=["c"], c=["a"])
    with pytest.raises(AddonError) as err:
        with_dependencies(g, ["a"])
    assert "cycle" in str(err.value)
    assert "a -> b -> c -> a" in str(err.value)


def test_unknown_addon():
    with pytest.raises(AddonError, match="unknown addon 'nope'"):
        with_dependencies(graph(), ["nope"])


def test_dependents_are_transitive():
    g = graph(a=[], b=["a"], c=["b"], d=[])
    assert dependents(g, "a", ["b", "c", "d"]) == ["b", "c"]
    assert dependents(g, "d", ["a", "b", "c"]) == []
