"""The entity kinds, declared once in ``data/entity_kinds.yaml``.

Extraction, the store, the review app, exports, campaign scrubbing, the corpus
check and linking all iterate :func:`kinds` rather than naming kinds, and ask
:func:`contact_kinds` which of them are contacts (privacy facts). A kind added
to the file — or with :func:`register`, as the tests do — is extracted (when it
has a ``pattern``), stored, pseudonymised and scrubbed everywhere.

>>> [k.key for k in contact_kinds()]
['phones', 'handles']
>>> by_key("places").fields
('country', 'role')
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from signalering import yamlio
from signalering.errors import ConfigError

__all__ = [
    "EntityKind",
    "route",
    "by_key",
    "by_kind",
    "contact_keys",
    "contact_kinds",
    "all_keys",
    "kinds",
    "register",
    "registered",
]

_SOURCE = "signalering/data/entity_kinds.yaml"
_NAME = re.compile(r"^[a-z][a-z_]{1,18}$")


@dataclass(frozen=True)
class EntityKind:
    """One entity kind: its names, whether it is a contact, and its own fields."""

    kind: str
    key: str
    contact: bool = False
    fields: tuple[str, ...] = ()
    placeholder: str | None = None
    gold: bool = False
    pattern: re.Pattern[str] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for what, name in (("kind", self.kind), ("key", self.key)):
            if not isinstance(name, str) or not _NAME.match(name):
                raise ConfigError(
                    f"{_SOURCE}: entity {what} {name!r} must be 2-19 lower-case letters or '_'"
                )
        if self.contact and not self.placeholder:
            object.__setattr__(self, "placeholder", f"[{self.kind}]")


def _parse(entry: Any, where: str) -> EntityKind:
    if not isinstance(entry, dict) or "kind" not in entry or "key" not in entry:
        raise ConfigError(f"{where}: an entity kind needs `kind` and `key`")
    unknown = set(entry) - {"kind", "key", "contact", "fields", "placeholder", "gold", "pattern"}
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    pattern = entry.get("pattern")
    try:
        compiled = re.compile(pattern) if pattern else None
    except re.error as exc:
        raise ConfigError(f"{where}: pattern {pattern!r} is not a valid regex ({exc})") from exc
    return EntityKind(
        kind=entry["kind"],
        key=entry["key"],
        contact=bool(entry.get("contact", False)),
        fields=tuple(entry.get("fields") or ()),
        placeholder=entry.get("placeholder"),
        gold=bool(entry.get("gold", False)),
        pattern=compiled,
    )


def _load() -> dict[str, EntityKind]:
    text = resources.files("signalering").joinpath("data/entity_kinds.yaml").read_text("utf-8")
    data = yamlio.safe_load(text) or {}
    out: dict[str, EntityKind] = {}
    for i, entry in enumerate(data.get("kinds") or []):
        kind = _parse(entry, f"{_SOURCE}: kinds[{i}]")
        _add(out, kind)
    return out


def _add(table: dict[str, EntityKind], kind: EntityKind) -> None:
    for other in table.values():
        if kind.kind == other.kind or kind.key == other.key:
            raise ConfigError(
                f"{_SOURCE}: entity kind {kind.kind!r} ({kind.key}) is declared twice"
            )
    table[kind.kind] = kind


_KINDS: dict[str, EntityKind] = _load()


def kinds() -> tuple[EntityKind, ...]:
    """Every entity kind, in declaration order (the order extraction results list them)."""
    return tuple(_KINDS.values())


def all_keys() -> tuple[str, ...]:
    """The plural keys of every kind: ``("phones", "handles", ...)``."""
    return tuple(k.key for k in _KINDS.values())


def contact_kinds() -> tuple[EntityKind, ...]:
    """The kinds that are contacts: pseudonymised, scrubbed, never shown clear to campaigns."""
    return tuple(k for k in _KINDS.values() if k.contact)


def contact_keys() -> tuple[str, ...]:
    """The plural keys of the contact kinds."""
    return tuple(k.key for k in contact_kinds())


def by_kind(kind: str) -> EntityKind | None:
    """The kind named ``kind`` (singular, as in the store), or None."""
    return _KINDS.get(kind)


def by_key(key: str) -> EntityKind | None:
    """The kind whose plural key is ``key``, or None."""
    return next((k for k in _KINDS.values() if k.key == key), None)


def register(kind: EntityKind) -> None:
    """Add ``kind`` to the registry for this process (a plug-in's, or a test's)."""
    _add(_KINDS, kind)


@contextmanager
def registered(kind: EntityKind) -> Iterator[EntityKind]:
    """``kind`` registered for the ``with`` block only."""
    register(kind)
    try:
        yield kind
    finally:
        _KINDS.pop(kind.kind, None)


def route(entities: dict[str, list[dict[str, Any]]]) -> tuple[str | None, str | None]:
    """``(departure, destination)`` canonical names from place roles and their order.

    Here, not in :mod:`signalering.extract`, because it reads stored entities: the
    campaign report and the review app use it without loading spaCy.
    """
    places = sorted(entities.get("places") or [], key=lambda p: p.get("start", 0))
    if not places:
        return (None, None)
    names = [p["value"] for p in places]
    departure = next((p["value"] for p in places if p.get("role") == "departure"), None)
    if departure is None:
        departure = next(
            (p["value"] for p in places if p.get("role") == "transit"),
            names[0] if len(set(names)) > 1 else None,
        )
    after = places[names.index(departure) + 1 :] if departure else places
    dests = [p["value"] for p in after if p.get("role") == "destination"]
    if not dests:
        dests = [p["value"] for p in after if p["value"] != departure]
    destination = dests[-1] if dests else None
    if destination is None and departure is None and places:
        destination = names[-1]
    return (departure, destination)
