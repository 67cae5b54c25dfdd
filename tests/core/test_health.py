import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db(transaction=True)


def test_health_reports_database_broker_and_answering_worker(client, celery_worker_thread):
    reply = client.get("/api/health/")
    body = reply.json()
    assert reply.status_code == 200, body
    assert body["ok"] is True
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["worker"] == {
        **body["checks"]["worker"],
        "ok": True,
        "detail": "a worker answered the ping",
    }


def test_health_page_says_when_no_worker_answers(client, settings):
    settings.HEALTH_WORKER_TIMEOUT = 0.5
    reply = client.get(reverse("health"))
    assert reply.status_code == 503
    page = reply.content.decode()
    assert "no worker answered a ping within 0.5 s" in page
    assert 'data-check="database"' in page


def test_health_checks_can_be_narrowed_for_load_balancers(client):
    reply = client.get("/api/health/?checks=database")
    assert reply.status_code == 200
    assert list(reply.json()["checks"]) == ["database"]


def test_health_partial_for_htmx(client):
    reply = client.get(reverse("health") + "?checks=database", HTTP_HX_REQUEST="true")
    assert reply.status_code == 200
    assert "<html" not in reply.content.decode()
