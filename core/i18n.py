"""Translation markers.

Labels are declared in English and wrapped in ``_()`` so that the message
extractor finds them; they are translated when shown, in the caller's
language (the web/API layers do that), never at declaration time.
"""


def _(text):
    """Mark ``text`` for translation; returns it unchanged."""
    return text


def translate(text, lang):
    """``text`` (a label declared in English, ``_()``) in ``lang``, where a
    catalog has it; else as it is. One place for the API, exports and
    reports (the web UI's Flask-Babel catalogs come with the UI issue)."""
    if lang == "en" or not isinstance(text, str):
        return text
    try:
        from .web.i18n import CATALOG
    except ImportError:  # the web UI's catalog is optional here
        return text
    return CATALOG.get(lang, {}).get(text, text)


__all__ = ["_", "translate"]
