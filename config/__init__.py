"""Configuration files shipped with Keel (``keel.toml``, ``editions.toml``).

They are read from the installed package (``importlib.resources``), never from
the working directory.
"""
