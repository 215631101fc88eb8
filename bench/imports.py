"""(being written)"""


def run(folder, n, log):
    return []
