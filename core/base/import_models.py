"""Kernel pieces of import (``core.services.imports``): none so far.

An import keeps no table of its own: the uploaded file of the web screen
waits in a private temporary folder between preview and confirm, and each
import writes one ``import`` entry in the audit log. The functions are kept
so that ``core.base`` can concatenate them like the other services'.
"""


def models():
    return []


def menus():
    return []


def jobs():
    return []
