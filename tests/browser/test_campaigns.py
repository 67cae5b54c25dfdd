"""The annotator's flow with the keyboard only, and the lead's set-up and live dashboard."""

import pytest
from playwright.sync_api import expect

from judgeapp.accounts.models import Membership
from judgeapp.campaigns.models import Campaign, Label
from judgeapp.campaigns.services import campaign_create
from tests.factories import ComparisonFactory, DatasetFactory, MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dataset(team):
    dataset = DatasetFactory(team=team, name="pairs")
    for i in range(3):
        ComparisonFactory(
            dataset=dataset,
            external_id=f"pair-{i}",
            conversation=[{"role": "user", "content": f"Question {i}: explain `sorted()`"}],
            response_1=f"Answer one {i}\n\n```python\nsorted([3, 1, 2])\n```",
            response_2=f"Answer two {i} " + "with a long explanation. " * 400,
        )
    return dataset


def keyboard_login(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.keyboard.press("Tab")  # into the username box (the first field)
    page.get_by_label("Username").focus()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def keys_ready(page) -> None:
    """The labelling page's shortcuts are attached (its script marks the document)."""
    expect(page.locator("html[data-keys='ready']")).to_have_count(1)


def test_annotator_labels_with_the_keyboard_only(page, team, admin, annotator, dataset, password):
    campaign = campaign_create(
        team=team, dataset=dataset, name="round 1", by=admin, annotators=[annotator], overlap=1,
        randomise_order=False, guidelines="Prefer **correct** and *short* answers.",
    )  # fmt: skip
    keyboard_login(page, annotator.username, password)
    page.goto(f"/campaigns/{campaign.pk}/")
    start = page.get_by_role("link", name="Start labelling")
    expect(start).to_be_focused()
    page.keyboard.press("Enter")

    # First item: the guidelines beside it, both responses, the scale with its keys.
    expect(page.get_by_role("heading", name="Response A")).to_be_visible()
    keys_ready(page)
    guidelines = page.get_by_role("complementary", name="Guidelines and keys")
    expect(guidelines.locator("strong", has_text="correct")).to_be_visible()
    first_item = page.locator("h1 .muted").inner_text()
    page.keyboard.press("2")  # "A is better"
    expect(page.get_by_label("A is better", exact=False).first).to_be_checked()
    expect(page.locator("#selected")).to_contain_text("A is better")
    page.keyboard.press("Enter")

    # Saved, and the next item appears.
    expect(page.get_by_text("Saved.")).to_be_visible()
    expect(page.locator("h1 .muted")).not_to_have_text(first_item)
    keys_ready(page)
    label = Label.objects.get(annotator=annotator)
    assert label.preference == -2 and label.comparison.external_id == first_item
    assert label.seconds_spent is not None and label.seconds_spent > 0

    # Back to the previous label with the left arrow, change it, see the history.
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("heading", name="Your label")).to_be_visible()
    keys_ready(page)
    expect(page.get_by_role("radio", name="A is better", exact=False).first).to_be_checked()
    page.keyboard.press("6")  # "B is better"
    page.keyboard.press("Enter")
    expect(page.get_by_text("Label changed.")).to_be_visible()
    keys_ready(page)
    history = page.locator("#history tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(1)).to_contain_text("A is better")
    expect(history.nth(1)).to_contain_text("B is better")
    label.refresh_from_db()
    assert label.preference == 2
    assert [h.after["preference"] for h in label.history.all()] == [-2, 2]

    # Right arrow: back to the queue, where the held item waits; S skips it with a reason.
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("heading", name="Response A")).to_be_visible()
    keys_ready(page)
    held = page.locator("h1 .muted").inner_text()
    page.keyboard.press("s")
    expect(page.get_by_label("Reason (optional)")).to_be_focused()
    page.keyboard.type("not sure")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Skipped.")).to_be_visible()
    expect(page.locator("h1 .muted")).not_to_have_text(held)
    keys_ready(page)

    # Last item: Enter without an answer says what to do; then answer and finish.
    page.keyboard.press("Enter")
    expect(page.locator("#selected")).to_contain_text("Pick an answer first")
    page.keyboard.press("4")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Nothing left for you")).to_be_visible()
    assert Label.objects.filter(annotator=annotator).count() == 2


def test_lead_sets_up_a_campaign_and_watches_it(page, login, team, admin, annotator, dataset):
    MembershipFactory(team=team, role=Membership.Role.ANNOTATOR, user__username="bob")
    login(admin.username)
    page.goto(f"/datasets/{dataset.pk}/")
    page.get_by_role("link", name="Annotate all items").click()
    page.get_by_label("Name").fill("round 1")
    page.get_by_label("Guidelines").fill("Prefer **correct** answers.")
    page.get_by_label("Labels wanted per item").fill("2")
    page.get_by_label(annotator.username).check()
    page.get_by_label("bob").check()
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", name="Progress")).to_be_visible()
    expect(page.locator("#annotators")).to_contain_text("bob")
    campaign = Campaign.objects.get(name="round 1")
    assert campaign.items.count() == 3 and campaign.overlap == 2

    # An annotator labels through the API meanwhile: the dashboard follows without a reload.
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(annotator)
    item = api.post(f"/api/assignments/next/?campaign={campaign.pk}").json()
    api.post(f"/api/assignments/{item['id']}/submit/", {"answer": 0, "seconds_spent": 1.0})
    expect(page.locator("#progress")).to_contain_text("1 of 6 labels", timeout=15_000)
    row = page.locator("#annotators tr", has_text=annotator.username)
    expect(row).to_contain_text("100%")  # one answer, a tie, faster than 5 s
