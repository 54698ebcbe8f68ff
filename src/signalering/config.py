"""Configuration, declared once.

Each setting's name, type, default and help live in the pydantic models below;
``signalering config show``, the environment variables and the docs read them.
Precedence: defaults < ``signalering.toml`` < environment < command-line flag.

Environment variables are ``SIGNALERING_<SECTION>_<KEY>``, e.g.
``SIGNALERING_DATABASE_URL`` or ``SIGNALERING_MODEL_THRESHOLD``.
"""

from __future__ import annotations

import logging
import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError

logger = logging.getLogger(__name__)

ENV_PREFIX = "SIGNALERING_"
CONFIG_ENV = "SIGNALERING_CONFIG"
DEFAULT_CONFIG_FILE = "signalering.toml"
PACKAGE_ROOT = Path(__file__).resolve().parent
# The checkout (editable install): annotaties/ and models/ live beside src/.
PROJECT_ROOT = PACKAGE_ROOT.parents[1]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PathsSettings(_Section):
    home: Path = Field(
        Path(".signalering"),
        description="Folder for local state: the SQLite store, crawl job dirs, the pseudonym key.",
    )


class DatabaseSettings(_Section):
    url: str | None = Field(
        None,
        description="SQLAlchemy URL; default sqlite:///<home>/signalering.sqlite3. "
        "PostgreSQL: postgresql+psycopg://user@host/db",
    )


class ModelSettings(_Section):
    path: Path = Field(
        PROJECT_ROOT / "models" / "default",
        description="Folder of the classifier (model.skops + MODEL_CARD.md).",
    )
    threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="A post is flagged when P(offer) >= threshold. Lower finds more offers "
        "(recall) at the cost of more false flags (precision); see the model card's curve.",
    )
    corpus: Path = Field(
        PROJECT_ROOT / "annotaties" / "corpus.jsonl",
        description="Annotated corpus that `train` and `evaluate` read.",
    )
    real_corpus: Path = Field(
        PROJECT_ROOT / "annotaties" / "real" / "corpus.jsonl",
        description="Texts that really appeared in public, with provenance: `train` learns from "
        "them (weighted) and chooses the model on them; `evaluate` reports them first.",
    )


class PrivacySettings(_Section):
    pseudonym_key: str | None = Field(
        None,
        description="Secret key for pseudonymising contacts and authors. Never commit it. "
        "If unset, a random key is created once in <home>/pseudonym.key.",
    )


class CrawlSettings(_Section):
    user_agent: str = Field(
        "signalering/0.1 (+https://github.com/signalering/signalering; research crawler)",
        description="Identifying user agent sent with every request.",
    )
    contact: str | None = Field(
        None, description="Contact e-mail appended to the user agent, for site operators."
    )
    sources: Path | None = Field(None, description="Default sources.yaml for `crawl`.")
    redis_url: str | None = Field(
        None,
        description="Redis shared by the crawler nodes of `crawl --distributed` "
        "(scrapy-redis scheduler and dupefilter), e.g. redis://10.0.0.5:6379/0.",
    )


class WebSettings(_Section):
    host: str = Field("127.0.0.1", description="Address the review app listens on.")
    port: int = Field(8000, ge=0, le=65535, description="Port the review app listens on.")
    secure_cookies: bool = Field(
        False,
        description="Always mark the app's cookies Secure. Without it they are Secure when a "
        "request comes over HTTPS, directly or through a proxy that sends "
        "X-Forwarded-Proto: https.",
    )


class SimilaritySettings(_Section):
    enabled: bool = Field(
        True,
        description="Compare each classified post with known offers (annotaties/ + offers "
        "analysts confirmed) and add the nearest ones as evidence.",
    )
    encoder: str = Field(
        "use-m3",
        description="Sentence encoder for similarity: 'use-m3' (bundled) or "
        "'st:<model name or local path>'.",
    )
    rule: Literal["logistic", "or", "off"] = Field(
        "logistic",
        description="How similarity flags a post the classifier did not: 'logistic' "
        "(flag when the learned combiner of P(offer) and the top cosine, combiner.json "
        "beside the model, reaches its cut), 'or' (flag when the top cosine >= "
        "flag_cosine) or 'off' (evidence only). 'logistic' is the default because it "
        "found more reposted offers at the classifier's precision on the held-out split "
        "(see the model card); without combiner.json it falls back to 'or' with a warning.",
    )
    # The "or" rule's cut, chosen on the train part (out-of-fold classifier scores, family
    # folds, ``link.combine.fit_combiner``): the lowest cosine at which the OR rule keeps the
    # classifier's own precision. Lower cuts (0.85) cost precision; on the held-out part the
    # OR rule adds no recall at equal precision (see the README and the model card).
    flag_cosine: float = Field(
        0.98,
        ge=0.0,
        le=1.0,
        description="With rule 'or': also flag a post whose cosine to a known offer is >= "
        "this (P(offer) >= model.threshold OR similarity >= flag_cosine).",
    )
    k: int = Field(3, ge=1, le=50, description="Nearest known offers shown as evidence.")
    cache_dir: Path = Field(
        PROJECT_ROOT / "models" / "embeddings",
        description="Where the known offers' vectors are cached when no store is used "
        "(one .npz per encoder; with a store they are cached in it).",
    )


class RetentionSettings(_Section):
    days: int | None = Field(
        None,
        ge=0,
        description="Default period of `signalering purge`: posts older than this many days "
        "(by posted_at, else fetched_at) are deleted with everything derived from them, "
        "unless on hold. When set, `run` and `crawl` purge at the end of each run. "
        "Unset: nothing is purged automatically.",
    )
    vacuum_full: bool = Field(
        False,
        description="PostgreSQL: VACUUM FULL the purged tables (rewrites them into new files, "
        "locking each meanwhile) instead of a plain VACUUM.",
    )


class LimitsSettings(_Section):
    """How much of a stranger's text each stage reads (README: Limits and retention).

    The store keeps the whole text (up to ``crawl_text_chars`` for crawled posts); a stage
    reads only the first N characters, and a post one stage read only in part carries
    ``truncated: true``. Each cap bounds time and memory on a 20 MB post.
    """

    line_mb: float = Field(
        50.0,
        gt=0,
        description="JSONL lines longer than this many MB are refused (reported, skipped, "
        "exit 3), read in chunks so such a line is never held in memory.",
    )
    normalise_chars: int = Field(
        200_000,
        ge=1,
        description="Characters of a post that normalisation reads (it keeps an offset map "
        "of ~60 bytes a character); classify and extract read from its result.",
    )
    language_chars: int = Field(
        20_000, ge=1, description="Characters of a post that language identification reads."
    )
    classify_chars: int = Field(
        20_000, ge=1, description="Characters of a post's normalised text the classifier reads."
    )
    extract_chars: int = Field(
        200_000,
        ge=1,
        description="Characters of a post's normalised text entity extraction reads "
        "(phones, handles, prices, places, dates; linear in the text).",
    )
    encoder_chars: int = Field(
        20_000,
        ge=1,
        description="Characters of a post the sentence encoder reads (similarity to known "
        "offers, cluster embeddings).",
    )
    discover_chars: int = Field(
        200_000,
        ge=1,
        description="Characters of a flagged post that source discovery searches for links "
        "(and at most 200 links from its extras).",
    )
    cluster_chars: int = Field(
        20_000,
        ge=1,
        description="Characters of a post that clustering compares by MinHash (near-copies).",
    )
    batch_chars: int = Field(
        2_000_000,
        ge=1,
        description="A batch of posts ends at this many characters of text as well as at "
        "its count, so a batch of long posts cannot multiply memory.",
    )
    crawl_text_chars: int = Field(
        1_000_000,
        ge=1,
        description="A crawled post's text is stored up to this many characters (marked "
        "truncated beyond); pages above 4 MB are not downloaded at all (DOWNLOAD_MAXSIZE).",
    )

    @property
    def line_bytes(self) -> int:
        return int(self.line_mb * 1024 * 1024)


class Settings(_Section):
    """The effective configuration."""

    paths: PathsSettings = PathsSettings()
    database: DatabaseSettings = DatabaseSettings()
    model: ModelSettings = ModelSettings()
    privacy: PrivacySettings = PrivacySettings()
    crawl: CrawlSettings = CrawlSettings()
    web: WebSettings = WebSettings()
    similarity: SimilaritySettings = SimilaritySettings()
    retention: RetentionSettings = RetentionSettings()
    limits: LimitsSettings = LimitsSettings()

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.paths.home / 'signalering.sqlite3'}"

    def pseudonym_key(self) -> bytes:
        """The configured key, or one created once under ``paths.home``."""
        if self.privacy.pseudonym_key:
            return self.privacy.pseudonym_key.encode("utf-8")
        key_file = self.paths.home / "pseudonym.key"
        if not key_file.exists():
            try:
                key_file.parent.mkdir(parents=True, exist_ok=True)
                key_file.write_text(secrets.token_hex(32), encoding="ascii")
                key_file.chmod(0o600)
            except OSError as exc:
                raise ConfigError(
                    f"cannot write pseudonym key {key_file}: {exc.strerror} — "
                    "set privacy.pseudonym_key or SIGNALERING_PRIVACY_PSEUDONYM_KEY"
                ) from exc
            logger.info("created a new pseudonym key in %s", key_file)
        return key_file.read_text(encoding="ascii").strip().encode("ascii")


def _section_fields() -> dict[str, dict[str, Any]]:
    return {
        name: dict(field.annotation.model_fields)  # type: ignore[union-attr]
        for name, field in Settings.model_fields.items()
    }


def _from_env(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for section, fields in _section_fields().items():
        for key in fields:
            var = f"{ENV_PREFIX}{section}_{key}".upper()
            if var in env and env[var] != "":
                found.setdefault(section, {})[key] = env[var]
    return found


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _describe(error: dict[str, Any], origin: str) -> str:
    where = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unknown setting '{where}' in {origin}"
    return f"setting '{where}' in {origin}: {error['msg']} (got {error.get('input')!r})"


def _validate(data: dict[str, Any], origin: str) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0], origin)) from exc


def config_path(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> Path | None:
    """The config file in force: ``path``, else $SIGNALERING_CONFIG, else ./signalering.toml."""
    env = os.environ if env is None else env
    if path is not None:
        chosen, origin = Path(path), "--config"
    elif env.get(CONFIG_ENV):
        chosen, origin = Path(env[CONFIG_ENV]), CONFIG_ENV
    else:
        default = Path(DEFAULT_CONFIG_FILE)
        return default if default.is_file() else None
    if not chosen.is_file():
        raise ConfigError(f"config file {chosen} (from {origin}) not found")
    return chosen


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Defaults < file < environment < ``overrides`` (command-line flags).

    >>> load_config(env={"SIGNALERING_MODEL_THRESHOLD": "0.7"}).model.threshold
    0.7
    """
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    file = config_path(path, env)
    if file is not None:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {file} is not valid TOML: {exc}") from exc
        _validate(data, str(file))
    env_data = _from_env(env)
    if env_data:
        data = _merge(data, env_data)
        _validate(data, "the environment (SIGNALERING_* variables)")
    if overrides:
        clean = {s: {k: v for k, v in kv.items() if v is not None} for s, kv in overrides.items()}
        data = _merge(data, {s: kv for s, kv in clean.items() if kv})
    return _validate(data, "the command line")


def show(settings: Settings) -> str:
    """The effective configuration as TOML, secrets masked, with each setting's help."""
    lines: list[str] = []
    for section, fields in _section_fields().items():
        lines.append(f"[{section}]")
        values = getattr(settings, section)
        for key, field in fields.items():
            value = getattr(values, key)
            if key == "url" and section == "database" and value is None:
                value = settings.database_url
            if "key" in key and value:
                value = "********"
            lines.append(f"# {field.description}")
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if value is None:
        return '""  # unset'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
