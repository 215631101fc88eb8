"""(being written)"""


def models():
    return []


def menus():
    return []


def jobs():
    return []
