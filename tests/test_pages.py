"""Every section of the navigation renders, for each role that may see it."""

import pytest
from django.urls import reverse

from tests.factories import CampaignFactory, JudgmentFactory

pytestmark = pytest.mark.django_db

SECTIONS = ["home", "datasets:index", "judging:judges", "judging:runs", "campaigns:index",
            "reports:index", "accounts:members"]  # fmt: skip


@pytest.mark.parametrize("name", SECTIONS)
def test_sections_render_empty_for_admin(admin_client, name):
    reply = admin_client.get(reverse(name))
    assert reply.status_code == 200
    assert '<nav class="mainnav"' in reply.content.decode()


@pytest.mark.parametrize("name", SECTIONS)
def test_sections_render_with_content_for_viewer(client, viewer, team, name):
    judgment = JudgmentFactory(run__judge__team=team)
    CampaignFactory(dataset=judgment.run.dataset)
    client.force_login(viewer)
    assert client.get(reverse(name)).status_code == 200


def test_annotator_navigation_shows_only_campaigns_and_team(client, annotator):
    client.force_login(annotator)
    page = client.get(reverse("home")).content.decode()
    nav = page.split('<nav class="mainnav"')[1].split("</nav>")[0]
    assert "Campaigns" in nav and "Team" in nav
    assert "Datasets" not in nav and "Runs" not in nav and "Reports" not in nav


def test_object_pages_render(client, viewer, team):
    judgment = JudgmentFactory(run__judge__team=team, reasoning="Response 2 is right.")
    run, comparison = judgment.run, judgment.comparison
    client.force_login(viewer)
    urls = [
        reverse("datasets:detail", args=[run.dataset_id]),
        reverse("datasets:comparison", args=[run.dataset_id, comparison.pk]),
        reverse("judging:judge", args=[run.judge_id]),
        reverse("judging:run", args=[run.pk]),
        reverse("judging:judgment", args=[run.pk, judgment.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert "Response 2 is right." in client.get(urls[-1]).content.decode()
