"""Translation markers.

Labels are declared in English and wrapped in ``_()`` so that the message
extractor finds them; they are translated when shown, in the caller's
language (the web/API layers do that), never at declaration time.
"""


def _(text):
    """Mark ``text`` for translation; returns it unchanged."""
    return text


__all__ = ["_"]
