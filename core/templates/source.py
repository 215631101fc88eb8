"""Finding and reading templates: the ``templates/*.yaml`` of installed
addons, or any YAML file given by its path."""
import importlib
import os
import pathlib

import yaml

from .check import TemplateError

SUFFIXES = (".yaml", ".yml")


def addon_template_files(db, conn):
    """``[(addon, path)]``: the template files of the installed addons, in
    dependency order, then by file name."""
    found = []
    for addon in db.installed_addons(conn):
        manifest = db.available.get(addon)
        if manifest is None:
            continue
        module = importlib.import_module(manifest.module)
        folder = pathlib.Path(module.__file__).parent / "templates"
        if folder.is_dir():
            found += [(addon, p) for p in sorted(folder.iterdir()) if p.suffix in SUFFIXES]
    return found


def find_templates(db, conn):
    """The templates installed addons ship: dicts ``name``, ``label``,
    ``addon``, ``path`` (a file that does not parse is listed with its
    error as label, so that a broken addon template is seen, not hidden)."""
    rows = []
    for addon, path in addon_template_files(db, conn):
        try:
            data = read(path)
            name, label = data.get("name"), data.get("label")
        except TemplateError as exc:
            name, label = path.stem, f"(unreadable: {exc})"
        rows.append({"name": name, "label": label or "", "addon": addon, "path": str(path)})
    return rows


def read(path):
    """The YAML mapping in ``path``; a refusal names the file and the line."""
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot read template {path}: {exc.strerror or exc}") from None
    return parse(text, str(path))


def parse(text, origin="template"):
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise TemplateError(f"{origin}{where}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise TemplateError(f"{origin}: a template is a YAML mapping with at least a name")
    return data


def load(db, conn, name_or_path):
    """The template ``name_or_path`` as a dict: a file when the argument is
    a path that exists (or ends in .yaml/.yml), else the template of that
    ``name`` (or file stem) an installed addon ships."""
    if os.path.exists(name_or_path) or name_or_path.endswith(SUFFIXES):
        return read(name_or_path)
    matches = [r for r in find_templates(db, conn)
               if name_or_path in (r["name"], pathlib.Path(r["path"]).stem)]
    if not matches:
        known = ", ".join(sorted({r["name"] for r in find_templates(db, conn)})) or "none"
        raise TemplateError(f"no template {name_or_path!r}: neither a file nor a template of an "
                            f"installed addon (those are: {known})")
    if len(matches) > 1:
        raise TemplateError(f"template name {name_or_path!r} is shipped by several addons "
                            f"({', '.join(m['addon'] for m in matches)}); give the file's path")
    return read(matches[0]["path"])
