"""Translations: texts written in English, shown in the caller's language.

Labels and messages are declared in English inside ``_()`` — a marker that
returns its text unchanged, so that the extractor (``make messages``) finds
them; they are translated when shown, in the caller's language, by
:func:`translate` (API, exports) or :func:`core.web.i18n.gettext` (pages),
never at declaration time.

Catalogs are gettext ``.po`` files: the kernel's (web UI included) under
``core/translations/``, each addon's under ``<addon>/translations/``, beside
its code. A catalog lives at ``<dir>/<locale>/LC_MESSAGES/messages.po``
where ``<locale>`` is Babel's name of the language: ``zh_Hans_CN`` for
``zh_CN`` — the directory gettext and Flask-Babel look in; one named
``zh_CN`` would be silently ignored. The ``.po`` files are compiled in memory
the first time a language is needed (once per process): there is no ``.mo``
file to build, ship or forget to rebuild (docs/i18n.md).

:func:`negotiate` picks the caller's language the same way for pages and
the API: their own ``lang``, else the browser's ``Accept-Language``, else
English.
"""
import functools
import io
import pathlib

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

#: the languages of Keel: code as stored in ``core.user.lang`` -> language tag (HTML, HTTP)
LANGUAGES = {"en": "en", "zh_CN": "zh-CN"}
#: the language texts are written in, and the one of callers who state none
DEFAULT = "en"
DOMAIN = "messages"
KERNEL_CATALOGS = pathlib.Path(__file__).resolve().parent / "translations"


def _(text):
    """Mark ``text`` for translation; returns it unchanged."""
    return text


def negotiate(user_lang, accept_languages=None):
    """The language of a caller: ``user_lang`` (their ``core.user.lang``) if
    Keel has it, else the first language of ``accept_languages`` (werkzeug's
    ``request.accept_languages``, best first) that Keel speaks, else English.

    Keel has one language per primary tag, so the tag's first part decides:
    ``zh-CN``, ``zh``, ``zh-Hans-CN`` or ``zh-TW`` read Simplified Chinese
    (closer to them than English), ``en-GB`` English. (werkzeug's
    ``best_match`` would miss ``zh-Hans-CN``.)"""
    if user_lang in LANGUAGES:
        return user_lang
    by_primary = {tag.split("-")[0]: code for code, tag in LANGUAGES.items()}
    for value, quality in accept_languages or ():
        code = by_primary.get(value.replace("_", "-").split("-")[0].lower())
        if code is not None and quality > 0:
            return code
    return DEFAULT


def locale_directory(lang):
    """The directory name of ``lang``'s catalogs: Babel's identifier of the
    locale (``zh_CN`` -> ``zh_Hans_CN``), where gettext looks."""
    return str(Locale.parse(lang))


def catalog_directories():
    """The ``translations`` directories: the kernel's, then each available
    addon's in dependency order (an addon may translate a text of the
    addons it depends on differently). Every addon found, installed or not:
    its texts show only where its models and menus do."""
    from .addons import BASE, dependency_order, discover, load_module
    available = discover()
    found = [KERNEL_CATALOGS]
    for name in dependency_order(available, list(available)):
        if name != BASE:
            directory = pathlib.Path(load_module(available[name]).__file__).parent / "translations"
            if directory.is_dir():
                found.append(directory)
    return found


def catalog_path(directory, lang):
    return pathlib.Path(directory) / locale_directory(lang) / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_catalog(path):
    """The translations of the ``.po`` file at ``path``; fuzzy entries (left
    by ``pybabel update`` for a translator to check) are not used."""
    with open(path, "rb") as po:
        catalog = read_po(po, domain=DOMAIN)
    mo = io.BytesIO()
    write_mo(mo, catalog, use_fuzzy=False)
    mo.seek(0)
    return Translations(mo, domain=DOMAIN)


@functools.cache
def translations(lang):
    """Every catalog of ``lang`` merged (kernel first, then addons), compiled
    once per process; an empty catalog for English, the source language."""
    merged = Translations(domain=DOMAIN)
    if lang == DEFAULT:
        return merged
    for directory in catalog_directories():
        path = catalog_path(directory, lang)
        if path.is_file():
            catalog = compile_catalog(path)
            merged.merge(catalog)
            merged.plural = catalog.plural  # merge() copies the messages only
    return merged


def translate(text, lang):
    """``text`` (declared in English with ``_()``) in ``lang``, where a
    catalog has it; else as it is. For the API, exports and reports; the
    pages use the same catalogs through Flask-Babel."""
    if lang not in LANGUAGES or not isinstance(text, str) or not text:
        return text
    return translations(lang).gettext(text)




def shown_value(field, value, lang):
    """A stored value of ``field`` as shown in ``lang``: texts of a field
    declared ``translate=True`` through the catalogs, anything else as it is."""
    if isinstance(value, str) and getattr(field, "translate", False):
        return translate(value, lang)
    return value


def shown_name(registry, model, name, lang):
    """The name of a ``model`` record (a many2one's ``name``) as shown in ``lang``."""
    meta = registry[model]
    return shown_value(meta.fields.get(meta.rec_name), name, lang)


__all__ = ["_", "DEFAULT", "LANGUAGES", "negotiate", "translate", "translations", "shown_value",
           "shown_name"]
