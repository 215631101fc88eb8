"""Configuration: ``config/keel.toml`` from the installed package, then the
file named by ``KEEL_CONFIG`` if any, then ``KEEL_*`` environment variables.
"""
import os
import tomllib
from dataclasses import dataclass, fields, replace
from importlib import resources

from .errors import UserInputError

#: The shipped development secret; production must set its own.
DEV_SECRET_KEY = "dev-only-change-me"


@dataclass(frozen=True)
class Config:
    database_url: str = "sqlite:///var/keel.db"
    host: str = "127.0.0.1"
    port: int = 8069
    edition: str = "standard"
    secret_key: str = DEV_SECRET_KEY
    data_dir: str = "var"
    log_level: str = "WARNING"
    # platform services (issue 6); an empty folder means one under data_dir
    files_dir: str = ""
    max_upload_mb: int = 25
    backup_dir: str = ""
    backup_keep: int = 14
    backup_time: str = "02:00"
    trash_days: int = 30
    smtp_url: str = ""
    mail_from: str = "keel@localhost"

    def with_overrides(self, **values):
        return replace(self, **{k: v for k, v in values.items() if v is not None})


def read_shipped(name):
    """Text of a file in the installed ``config`` package."""
    return resources.files("config").joinpath(name).read_text(encoding="utf-8")


def _coerce(name, value, kind):
    if kind is int or kind == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise UserInputError(f"config: {name} must be an integer, got {value!r}")
    return str(value)


def load_config(environ=None, **overrides):
    """Build the effective configuration.

    ``environ`` defaults to ``os.environ``; it is only read when this is
    called, never at import time.
    """
    environ = os.environ if environ is None else environ
    known = {f.name: f.type for f in fields(Config)}
    values = {}

    def merge(data, origin):
        for key, value in data.items():
            if key not in known:
                raise UserInputError(f"config: unknown key {key!r} in {origin}")
            values[key] = _coerce(key, value, known[key])

    merge(tomllib.loads(read_shipped("keel.toml")), "config/keel.toml")
    extra = environ.get("KEEL_CONFIG")
    if extra:
        try:
            with open(extra, "rb") as fh:
                merge(tomllib.load(fh), extra)
        except OSError as exc:
            raise UserInputError(f"config: cannot read KEEL_CONFIG={extra}: {exc.strerror}")
    if values.get("log_level", "WARNING").upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise UserInputError(f"config: log_level {values['log_level']!r} is not one of "
                             "DEBUG, INFO, WARNING, ERROR, CRITICAL")
    for key, kind in known.items():
        env_value = environ.get("KEEL_" + key.upper())
        if env_value not in (None, ""):
            values[key] = _coerce(key, env_value, kind)
    return Config(**values).with_overrides(**overrides)
