"""Editions: named addon sets from ``config/editions.toml``."""
import tomllib

from .config import read_shipped
from .errors import UserInputError


def load_editions():
    """``{name: {"label", "addons"}}`` with each edition's full addon list
    (what it includes first), in file order."""
    raw = tomllib.loads(read_shipped("editions.toml"))
    result = {}
    for name, data in raw.items():
        addons = []
        base = data.get("includes")
        if base:
            if base not in result:
                raise UserInputError(f"editions.toml: {name} includes unknown or later edition {base!r}")
            addons.extend(result[base]["addons"])
        addons.extend(a for a in data.get("addons", []) if a not in addons)
        result[name] = {"label": data.get("label", name), "addons": addons}
    return result


def edition_addons(name, available):
    """``(present, missing)`` addon names of edition ``name``."""
    editions = load_editions()
    if name not in editions:
        raise UserInputError(f"unknown edition {name!r} (one of {', '.join(editions)})")
    addons = editions[name]["addons"]
    return [a for a in addons if a in available], [a for a in addons if a not in available]
