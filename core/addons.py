"""Finding addons and ordering them by their dependency graph.

An addon is a Python package whose ``__init__`` holds a ``manifest`` dict
(name, version, summary, category, depends) and hook implementations. Addons
come from the ``addons`` package of this distribution and from the
entry-point group ``keel.addons`` of any installed distribution. The kernel's
own addon, ``base`` (``core.base``), is found the same way and every addon
depends on it implicitly.
"""
import importlib
import logging
import pkgutil
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from .errors import AddonError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "keel.addons"
BASE = "base"


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    summary: str = ""
    category: str = ""
    depends: tuple = ()
    module: str = ""
    origin: str = ""
    label: str = ""

    @property
    def version_tuple(self):
        return parse_version(self.version)


def parse_version(text):
    try:
        return tuple(int(part) for part in str(text).split("."))
    except ValueError:
        raise AddonError(f"bad version {text!r}: use numbers separated by dots, e.g. 1.2.0")


def manifest_of(module, origin, expected_name=None):
    data = getattr(module, "manifest", None)
    if not isinstance(data, dict):
        raise AddonError(f"addon module {module.__name__} has no manifest dict")
    unknown = set(data) - {"name", "version", "summary", "category", "depends", "label"}
    if unknown:
        raise AddonError(f"addon {module.__name__}: unknown manifest keys {sorted(unknown)}")
    for key in ("name", "version"):
        if not data.get(key):
            raise AddonError(f"addon {module.__name__}: manifest lacks {key!r}")
    name = data["name"]
    if expected_name and name != expected_name:
        raise AddonError(f"addon {module.__name__}: manifest name {name!r} "
                         f"differs from its entry point {expected_name!r}")
    parse_version(data["version"])
    depends = tuple(data.get("depends", ()))
    if name != BASE and BASE not in depends:
        depends = (BASE,) + depends
    return Manifest(name=name, version=str(data["version"]), summary=data.get("summary", ""),
                    category=data.get("category", ""), depends=depends,
                    module=module.__name__, origin=origin, label=data.get("label", name))


def discover():
    """All addons available to this installation, by name."""
    found = {}

    def add(manifest):
        other = found.get(manifest.name)
        if other is not None and other.module != manifest.module:
            raise AddonError(f"addon {manifest.name!r} is provided twice: "
                             f"{other.module} ({other.origin}) and {manifest.module} ({manifest.origin})")
        found[manifest.name] = manifest

    add(manifest_of(importlib.import_module("core.base"), "kernel"))
    import addons as addons_package
    for info in sorted(pkgutil.iter_modules(addons_package.__path__), key=lambda i: i.name):
        if info.ispkg and not info.name.startswith("_"):
            module = importlib.import_module(f"addons.{info.name}")
            add(manifest_of(module, "addons"))
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            module = ep.load()
        except Exception as exc:  # a broken third-party package names itself
            raise AddonError(f"entry point {ep.name} = {ep.value} ({ENTRY_POINT_GROUP}) "
                             f"failed to import: {exc}") from exc
        dist = getattr(ep, "dist", None)
        origin = f"entry point of {dist.name}" if dist else "entry point"
        add(manifest_of(module, origin, expected_name=ep.name))
    return found


def load_module(manifest):
    return importlib.import_module(manifest.module)


def with_dependencies(available, names):
    """``names`` plus everything they depend on, in dependency order.

    A missing dependency or a cycle raises ``AddonError`` naming the chain.
    """
    ordered, done = [], set()

    def visit(name, chain):
        if name in done:
            return
        if name in chain:
            cycle = chain[chain.index(name):] + [name]
            raise AddonError("dependency cycle: " + " -> ".join(cycle))
        manifest = available.get(name)
        if manifest is None:
            if chain:
                raise AddonError("missing dependency: " + " -> ".join(chain + [name])
                                 + f" (no addon named {name!r} is installed on this system)")
            raise AddonError(f"unknown addon {name!r}")
        for dep in sorted(manifest.depends):
            visit(dep, chain + [name])
        done.add(name)
        ordered.append(name)

    for name in names:
        visit(name, [])
    return ordered


def dependency_order(available, names):
    """``names`` (closed under dependencies) sorted so that every addon comes
    after what it depends on; peers in alphabetical order."""
    return [n for n in with_dependencies(available, sorted(names)) if n in set(names)]


def dependents(available, name, among):
    """Addons in ``among`` that depend on ``name``, directly or not."""
    result = []
    for other in among:
        if other != name and name in with_dependencies(available, [other])[:-1]:
            result.append(other)
    return sorted(result)


@dataclass
class AddonSet:
    """The loaded addons of one registry, in dependency order."""
    manifests: list = field(default_factory=list)

    @property
    def names(self):
        return [m.name for m in self.manifests]
