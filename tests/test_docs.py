"""The documentation keeps up with the code.

* ``docs/hooks.md`` is what ``python -m core.hookdocs`` generates now;
* it holds every hook's exact signature (read here with ``inspect``, not
  through the generator);
* every hook has a ``test_hook_<name>`` in ``tests/test_hooks.py``;
* ``docs/addons.md`` covers the essentials, and relative links in the docs
  point at files that exist.

Each check is a function returning what is wrong, so that the tests at the
bottom can show that the checks do fail on tampered input.
"""
import ast
import inspect
import pathlib
import re

from core import hookdocs, hookspecs
from core.plugins import NOTIFICATIONS

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HOOKS_MD = DOCS / "hooks.md"
ADDONS_MD = DOCS / "addons.md"
TEST_HOOKS = ROOT / "tests" / "test_hooks.py"
#: The example addon pair docs/addons.md walks through.
EXAMPLE_ADDONS = ("crm_base", "sales")


def hook_specs(module=hookspecs):
    """``{name: "name(params)"}`` straight from the specification module."""
    return {name: f"{name}{inspect.signature(fn)}" for name, fn in vars(module).items()
            if name.startswith("keel_") and inspect.isfunction(fn)}


def _read(path):
    return path.read_text(encoding="utf-8") if path.exists() else None


# -- checks --------------------------------------------------------------------
def stale_hooks_doc(text, expected):
    """A reason when the committed page differs from the generated one."""
    if text is None:
        return "docs/hooks.md is missing; run `python -m core.hookdocs` and commit it"
    if text != expected:
        return ("docs/hooks.md is out of date with core/hookspecs.py; "
                "run `python -m core.hookdocs` and commit the result")
    return None


def signatures_missing_from(text, specs):
    """Hooks whose exact signature is not a section heading of the page."""
    headings = set(re.findall(r"^## (.+?)\s*$", text or "", flags=re.M))
    return sorted(sig for sig in specs.values() if sig not in headings)


def hooks_without_tests(source, names):
    """Hooks lacking a ``test_hook_<name>`` function in ``source``."""
    if source is None:
        return sorted(names)
    defined = {node.name for node in ast.walk(ast.parse(source))
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return sorted(n for n in names if f"test_hook_{n}" not in defined)


def addons_doc_gaps(text, addon_names):
    if text is None:
        return ["docs/addons.md is missing"]
    wanted = ["Extend", "keel_models", "manifest", *addon_names]
    return [word for word in wanted if word not in text]


def broken_links(paths):
    """Relative Markdown links (``[x](path)``) to files that do not exist."""
    broken = []
    for path in paths:
        text = _read(path) or ""
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:|^#", target):
                continue
            file_part = target.split("#", 1)[0]
            if not (path.parent / file_part).exists():
                broken.append(f"{path.name} -> {target}")
    return broken


# -- the tests -----------------------------------------------------------------
def test_hooks_doc_is_generated_from_current_specs():
    problem = stale_hooks_doc(_read(HOOKS_MD), hookdocs.render())
    assert problem is None, problem


def test_hooks_doc_has_every_hook_with_its_exact_signature():
    specs = hook_specs()
    assert specs, "no keel_* hooks found in core.hookspecs"
    missing = signatures_missing_from(_read(HOOKS_MD), specs)
    assert not missing, ("docs/hooks.md lacks a section headed by these signatures "
                         f"(run `python -m core.hookdocs`): {', '.join(missing)}")


def test_every_hook_has_a_test_in_test_hooks():
    missing = hooks_without_tests(_read(TEST_HOOKS), hook_specs())
    assert not missing, ("tests/test_hooks.py needs these test functions: "
                         + ", ".join(f"test_hook_{n}" for n in missing))


def test_notification_hooks_are_the_ones_the_spec_module_names():
    """core/hookspecs.py says notifications are keel_after_* and keel_addon_*;
    core/plugins.py decides. The docs take their kinds from the latter."""
    said = {n for n in hook_specs() if n.startswith(("keel_after_", "keel_addon_"))}
    assert said == set(NOTIFICATIONS), (
        f"core.plugins.NOTIFICATIONS {sorted(NOTIFICATIONS)} differs from the hookspecs "
        f"docstring's keel_after_*/keel_addon_* {sorted(said)}")
    assert set(NOTIFICATIONS) <= set(hook_specs()), "NOTIFICATIONS names an unknown hook"


def test_addons_doc_covers_the_essentials():
    for name in EXAMPLE_ADDONS:
        assert (ROOT / "addons" / name / "__init__.py").exists(), \
            f"docs/addons.md's example addon {name!r} is gone; update the doc and EXAMPLE_ADDONS"
    gaps = addons_doc_gaps(_read(ADDONS_MD), EXAMPLE_ADDONS)
    assert not gaps, f"docs/addons.md does not mention: {', '.join(gaps)}"


def test_relative_links_in_docs_point_at_existing_files():
    pages = sorted(DOCS.glob("*.md")) + [ROOT / "README.md"]
    missing_pages = [p.name for p in pages if not p.exists()]
    assert not missing_pages, f"missing: {missing_pages}"
    broken = broken_links(pages)
    assert not broken, f"broken links: {broken}"


# -- the checks can fail -----------------------------------------------------------
def test_checks_fail_on_tampered_input(tmp_path):
    import types

    good = hookdocs.render()
    assert stale_hooks_doc(good, good) is None
    assert "out of date" in stale_hooks_doc(good.replace("keel_models", "keel_modelz", 1), good)
    assert "missing" in stale_hooks_doc(None, good)

    # a new hook in a copy of the spec module: not in the committed doc
    fake = types.ModuleType("fake_hookspecs")
    exec(compile(inspect.getsource(hookspecs) + "\n\n@hookspec\ndef keel_zz_probe(env, thing):\n"
                 "    \"\"\"New.\"\"\"\n", "fake_hookspecs.py", "exec"), fake.__dict__)
    assert signatures_missing_from(good, hook_specs(fake)) == ["keel_zz_probe(env, thing)"]
    assert stale_hooks_doc(good, hookdocs.render(fake)) is not None
    # a changed signature: one parameter dropped from a heading
    name, sig = next((n, s) for n, s in hook_specs().items() if ", " in s)
    changed = good.replace(f"## {sig}\n", f"## {sig.replace(', ', ',', 1)}\n")
    assert signatures_missing_from(changed, hook_specs()) == [sig]

    source = "def test_hook_keel_models():\n    pass\nclass TestX:\n    def test_hook_keel_menus(self):\n        pass\n"
    assert hooks_without_tests(source, ["keel_models", "keel_menus", "keel_views"]) == ["keel_views"]
    assert hooks_without_tests(None, ["keel_views"]) == ["keel_views"]

    assert addons_doc_gaps("Extend keel_models manifest crm_base", EXAMPLE_ADDONS) == ["sales"]
    assert addons_doc_gaps(None, EXAMPLE_ADDONS) == ["docs/addons.md is missing"]

    page = tmp_path / "page.md"
    page.write_text("[ok](https://example.com) [anchor](#x) [gone](nowhere.md)", encoding="utf-8")
    assert broken_links([page]) == ["page.md -> nowhere.md"]

