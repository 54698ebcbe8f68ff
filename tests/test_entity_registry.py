"""The entity-kind registry: one declaration that every consumer reads."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from signalering import entities
from signalering.entities import EntityKind, _parse
from signalering.errors import ConfigError
from signalering.extract import extract
from signalering.web.export import csv_fields


def test_the_shipped_kinds_and_which_are_contacts() -> None:
    assert entities.all_keys() == ("phones", "handles", "prices", "places", "dates")
    assert [k.kind for k in entities.contact_kinds()] == ["phone", "handle"]
    assert entities.by_key("prices").fields == ("per",)  # type: ignore[union-attr]
    assert entities.by_kind("place").fields == ("country", "role")  # type: ignore[union-attr]
    assert entities.by_kind("phone").placeholder == "[phone]"  # type: ignore[union-attr]
    assert entities.by_kind("nope") is None and entities.by_key("nopes") is None


def test_extract_gives_one_list_per_kind_and_the_export_one_column_per_contact() -> None:
    assert tuple(extract("nothing here", lang="en")) == entities.all_keys()
    columns = csv_fields()
    assert all(key in columns for key in entities.contact_keys())
    assert not any(k.key in columns for k in entities.kinds() if not k.contact)


def test_the_registry_file_is_package_data_and_every_kind_has_a_label_in_each_language() -> None:
    assert resources.files("signalering").joinpath("data/entity_kinds.yaml").is_file()
    for lang in ("en", "nl"):
        labels = json.loads(
            resources.files("signalering.web").joinpath(f"i18n/{lang}.json").read_text("utf-8")
        )
        missing = [key for key in entities.all_keys() if key not in labels]
        assert missing == [], f"{lang}.json lacks labels for {missing}"


def test_a_contact_kind_without_a_placeholder_gets_one_from_its_name() -> None:
    assert EntityKind("wickr", "wickrs", contact=True).placeholder == "[wickr]"
    assert EntityKind("colour", "colours").placeholder is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"key": "emails"}, "needs `kind` and `key`"),
        ({"kind": "email", "key": "emails", "secret": True}, "unknown field(s) secret"),
        ({"kind": "email", "key": "emails", "pattern": "(["}, "is not a valid regex"),
        ({"kind": "E-mail", "key": "emails"}, "entity kind 'E-mail' must be"),
    ],
)
def test_a_bad_entry_is_one_line_naming_what_and_where(entry: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        _parse(entry, "entity_kinds.yaml: kinds[5]")
    assert "\n" not in str(info.value)
    assert "entity_kinds.yaml" in str(info.value)


def test_a_kind_cannot_be_declared_twice_and_a_registration_ends_with_its_block() -> None:
    with pytest.raises(ConfigError, match="declared twice"):
        entities.register(EntityKind("phone", "phonez"))
    with entities.registered(EntityKind("email", "emails", contact=True)):
        assert "emails" in entities.contact_keys()
    assert "emails" not in entities.all_keys()
