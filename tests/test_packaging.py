"""Packaging: the distribution holds every package and the config files,
so `keel` works from an installed wheel whatever the working directory."""
import configparser
import pathlib
import subprocess
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent


def listed_packages():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    return {p.strip() for p in cfg["options"]["packages"].split() if p.strip()}


def source_packages():
    found = set()
    for top in ("core", "addons", "config"):
        for init in (ROOT / top).rglob("__init__.py"):
            if "tests" in init.relative_to(ROOT).parts:
                continue
            found.add(".".join(init.parent.relative_to(ROOT).parts))
    return found


def test_setup_cfg_lists_every_package():
    assert source_packages() == listed_packages()


def test_wheel_contains_code_addons_and_config(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("keel_erp-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("core/cli.py", "core/base/__init__.py", "core/orm/recordset.py",
                     "config/keel.toml", "config/editions.toml", "addons/crm_base/__init__.py",
                     "addons/crm_base/models.py", "addons/sales/__init__.py",
                     "addons/crm_base/templates/auto_dealer.yaml", "addons/crm_base/templates/trading.yaml"):
        assert required in names, required
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "keel = core.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    assert not any(n.startswith("tests/") for n in names)


def test_every_kernel_module_imports_first():
    """Whichever kernel module a program imports first, it imports (no
    import cycle that works only in one order)."""
    import subprocess
    import sys
    script = """
import importlib, pkgutil, sys
import core
# core.wsgi builds the production app at import: it needs a real secret
names = sorted(m.name for m in pkgutil.walk_packages(core.__path__, "core.")
               if not m.name.endswith("__main__") and m.name != "core.wsgi")
failed = []
for name in names:
    for loaded in [k for k in sys.modules if k == "core" or k.startswith(("core.", "addons"))]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {exc!r}")
print(len(names))
print("\\n".join(failed))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    count, *failed = done.stdout.strip().split("\n")
    assert int(count) > 30 and [f for f in failed if f] == []
