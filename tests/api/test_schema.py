import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_schema_is_served_and_lists_the_endpoints(admin):
    api = APIClient()
    api.force_authenticate(admin)
    reply = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert reply.status_code == 200
    schema = reply.json()
    assert schema["openapi"].startswith("3.")
    for path in ("/api/datasets/", "/api/runs/", "/api/campaigns/", "/api/memberships/{id}/"):
        assert path in schema["paths"], path


def test_docs_page_uses_no_cdn(admin_client):
    page = admin_client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()


def test_api_needs_authentication():
    assert APIClient().get("/api/datasets/").status_code == 401


def test_judge_reply_never_carries_the_api_key(admin, team):
    from tests.factories import JudgeFactory

    JudgeFactory(team=team, api_key_encrypted="gAAAA-secret-ciphertext")
    api = APIClient()
    api.force_authenticate(admin)
    body = api.get("/api/judges/").content.decode()
    assert "gAAAA-secret-ciphertext" not in body
    assert '"has_api_key":true' in body
