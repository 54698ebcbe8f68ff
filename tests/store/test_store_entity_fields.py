"""Each entity kind's own fields (a place's role and country, a price's per) survive the store."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from signalering.extract import extract, route
from signalering.post import Post
from signalering.store import Store
from signalering.store import engine as engines

OFFER = "Boat Zuwara → Lampedusa 3.500€ p.p. WhatsApp +218 92 260 1815"


def test_place_role_and_country_and_price_per_survive_a_round_trip(store: Store) -> None:
    found = extract(OFFER, lang="en")
    assert found["places"][0]["role"] == "departure"  # what the extractor gives, to keep
    store.save_posts([Post(text=OFFER, source="forum", post_id="1", entities=found)])

    [post] = list(store.iter_posts())
    places = {p["value"]: p for p in post.entities["places"]}  # type: ignore[index]
    assert places["Zuwara"]["role"] == "departure" and places["Zuwara"]["country"] == "LY"
    assert places["Lampedusa"]["role"] == "transit" and places["Lampedusa"]["country"] == "IT"
    [price] = post.entities["prices"]  # type: ignore[index]
    assert (price["amount"], price["currency"], price["per"]) == (3500.0, "EUR", "person")
    # The route read back from the store is the one read from the text.
    assert route(post.entities) == route(found)  # type: ignore[arg-type]


def test_fields_of_no_kind_of_the_registry_are_not_stored(store: Store) -> None:
    entities = {"places": [{"value": "Calais", "role": "departure", "secret": "x", "start": 0}]}
    store.save_posts([Post(text="Calais", source="forum", post_id="1", entities=entities)])
    [post] = list(store.iter_posts())
    [place] = post.entities["places"]  # type: ignore[index]
    assert place["role"] == "departure" and "secret" not in place


def test_migration_0008_adds_the_column_and_has_posts_with_places_extracted_again(
    store_url: str,
) -> None:
    engine = engines.create(store_url)
    command.upgrade(engines.alembic_config(engine), "0007")
    assert "fields" not in {c["name"] for c in inspect(engine).get_columns("entities")}
    with engine.begin() as conn:
        for pk, body in ((1, "Calais"), (2, "call +31612345678")):
            conn.execute(
                text(
                    "INSERT INTO posts (id, source, post_id, fetched_at, text, content_hash, "
                    "created_at, updated_at, extracted_at) VALUES (:pk, 's', :pid, "
                    "'2024-01-01', :body, 'h', '2024-01-01', '2024-01-01', '2024-01-02')"
                ),
                {"pk": pk, "pid": str(pk), "body": body},
            )
        conn.exec_driver_sql(
            "INSERT INTO entities (post_id, kind, value) VALUES (1, 'place', 'Calais'), "
            "(2, 'phone', '+31612345678')"
        )
    engine.dispose()

    with Store.open(store_url) as store:
        post = store.get(1)
        assert post is not None
        # An old row has no fields: read back as before, nothing invented.
        assert post.entities == {"places": [{"value": "Calais"}]}
        assert "fields" in {c["name"] for c in inspect(store.engine).get_columns("entities")}
        with store.engine.connect() as conn:
            marked = dict(conn.execute(text("SELECT id, extracted_at FROM posts")).all())
    # The post with a place is extracted again (its role and country come back); a post
    # whose kinds have no fields of their own keeps its mark.
    assert marked[1] is None and marked[2] is not None
    command.downgrade(engines.alembic_config(engines.create(store_url)), "0007")


def test_campaign_routes_from_the_store_follow_place_roles_like_routes_from_the_posts(
    store: Store,
) -> None:
    from signalering.campaign import aggregates, aggregates_from_posts

    # Mentioned destination first: only the places' roles give the right direction.
    text = "To Lampedusa from Zuwara every week, 3000 euro per person"
    post = Post(
        text=text,
        source="forum",
        post_id="1",
        lang="en",
        label="offer",
        scores={"offer": 0.9, "unrelated": 0.1},
        flagged=True,
        model_version="test",
        posted_at="2024-05-01T10:00:00+00:00",
        entities=extract(text, lang="en"),
    )
    store.save_posts([post])
    routes = [(r["departure"], r["destination"]) for r in aggregates(store, themes=False)["routes"]]
    assert routes[0][0] == "Zuwara"  # by mention order alone it was Lampedusa
    from_posts = aggregates_from_posts([post], themes=False)["routes"]
    assert routes == [(r["departure"], r["destination"]) for r in from_posts]
