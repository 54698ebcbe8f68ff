from __future__ import annotations

from pathlib import Path

import pytest

from signalering.config import load_config, show
from signalering.errors import ConfigError


def test_defaults_then_file_then_environment_then_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "signalering.toml"
    cfg.write_text('[model]\nthreshold = 0.6\n[database]\nurl = "sqlite:///from-file.db"\n')
    assert load_config(env={}).model.threshold == 0.5
    assert load_config(cfg, env={}).model.threshold == 0.6
    env = {"SIGNALERING_MODEL_THRESHOLD": "0.7"}
    assert load_config(cfg, env=env).model.threshold == 0.7
    assert load_config(cfg, env=env, overrides={"model": {"threshold": 0.8}}).model.threshold == 0.8
    assert load_config(cfg, env=env).database_url == "sqlite:///from-file.db"


def test_database_url_from_environment_variable(tmp_path: Path) -> None:
    env = {"SIGNALERING_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/test"}
    assert load_config(env=env).database_url.startswith("postgresql+psycopg://")


def test_config_file_named_by_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "x.toml"
    cfg.write_text("[web]\nport = 9999\n")
    assert load_config(env={"SIGNALERING_CONFIG": str(cfg)}).web.port == 9999


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[model]\nthreshhold = 0.3\n")
    with pytest.raises(ConfigError, match=r"unknown setting 'model.threshhold' in .*bad.toml"):
        load_config(cfg, env={})


def test_wrong_type_names_key_and_origin(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[web]\nport = "eighty"\n')
    with pytest.raises(ConfigError, match=r"setting 'web.port' in .*bad.toml"):
        load_config(cfg, env={})
    with pytest.raises(ConfigError, match="environment"):
        load_config(env={"SIGNALERING_MODEL_THRESHOLD": "high"})


def test_missing_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env={})


def test_broken_toml_is_reported(tmp_path: Path) -> None:
    cfg = tmp_path / "broken.toml"
    cfg.write_text("[model\nthreshold = 0.3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(cfg, env={})


def test_show_masks_the_pseudonym_key() -> None:
    text = show(load_config(env={"SIGNALERING_PRIVACY_PSEUDONYM_KEY": "s3cret-value"}))
    assert "s3cret-value" not in text
    assert "pseudonym_key" in text


def test_pseudonym_key_is_created_once_and_reused(tmp_path: Path) -> None:
    settings = load_config(env={"SIGNALERING_PATHS_HOME": str(tmp_path / "home")})
    first = settings.pseudonym_key()
    assert len(first) >= 32
    assert settings.pseudonym_key() == first
    assert (tmp_path / "home" / "pseudonym.key").stat().st_mode & 0o077 == 0
