"""(being written)"""

#: click commands added to ``keel`` by :mod:`core.cli`
COMMANDS = []
