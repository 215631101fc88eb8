"""Configuration: shipped config/keel.toml, then KEEL_CONFIG, then KEEL_* variables."""
import pytest

from core.config import load_config, read_shipped
from core.errors import UserInputError


def test_defaults_come_from_the_installed_config_file():
    config = load_config(environ={})
    assert config.database_url == "sqlite:///var/keel.db"
    assert config.port == 8069
    assert config.edition == "standard"
    assert "database_url" in read_shipped("keel.toml")


def test_environment_overrides(tmp_path):
    config = load_config(environ={"KEEL_DATABASE_URL": "postgresql+psycopg://u@h/db", "KEEL_PORT": "9000"})
    assert config.database_url == "postgresql+psycopg://u@h/db"
    assert config.port == 9000


def test_config_file_then_environment(tmp_path):
    extra = tmp_path / "site.toml"
    extra.write_text('port = 7000\nedition = "lite"\n', encoding="utf-8")
    config = load_config(environ={"KEEL_CONFIG": str(extra), "KEEL_PORT": "7001"})
    assert (config.edition, config.port) == ("lite", 7001)


def test_bad_values_are_named(tmp_path):
    with pytest.raises(UserInputError, match="port must be an integer"):
        load_config(environ={"KEEL_PORT": "eighty"})
    bad = tmp_path / "bad.toml"
    bad.write_text('colour = "red"\n', encoding="utf-8")
    with pytest.raises(UserInputError, match="unknown key 'colour'"):
        load_config(environ={"KEEL_CONFIG": str(bad)})
    with pytest.raises(UserInputError, match="cannot read KEEL_CONFIG"):
        load_config(environ={"KEEL_CONFIG": str(tmp_path / "missing.toml")})


def test_importing_the_kernel_opens_no_database(tmp_path):
    import subprocess
    import sys
    code = "import core, core.db, core.cli, core.app, core.installer, addons.crm_base"
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True,
                   env={"PATH": "/usr/bin:/bin", "KEEL_DATABASE_URL": f"sqlite:///{tmp_path}/x/keel.db"})
    assert list(tmp_path.iterdir()) == []
