"""The campaign report in the review app: campaign users see it, without identities."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import CampaignCorpus
from fastapi.testclient import TestClient

from signalering import accounts
from signalering.config import Settings
from signalering.store import Store
from signalering.web.app import create_app

PASSWORD = "a long campaign password"


def test_a_campaign_user_sees_the_report_without_identities(
    campaign_corpus: CampaignCorpus, tmp_path: Path
) -> None:
    settings = Settings.model_validate({"paths": {"home": str(tmp_path)}})
    with Store.open(campaign_corpus.url, pseudonym_key=b"campaign-test") as store:
        accounts.add_user(store, "carla", "campaign", PASSWORD)
        client = TestClient(create_app(settings, store=store))
        assert client.get("/campaign/report", follow_redirects=False).status_code == 303
        page = client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        client.post("/login", data={"name": "carla", "password": PASSWORD, "csrf": token.group(1)})
        response = client.get("/campaign/report", params={"from": "2024-03-04", "to": "2024-03-17"})
        assert response.status_code == 200
        assert "Executive summary" in response.text and "<script" not in response.text
        csp = response.headers["content-security-policy"]
        assert "script-src" not in csp and "default-src 'none'" in csp
        lowered = response.text.lower()
        for value in campaign_corpus.handles + campaign_corpus.links + campaign_corpus.authors:
            assert value.lower() not in lowered
        assert any(e["action"] == "view.campaign_report" for e in store.audit_log(limit=5))
