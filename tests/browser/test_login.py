import re

import pytest
from playwright.sync_api import expect

from tests.factories import DatasetFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_user_logs_in_and_sees_the_dashboard(page, login, admin, team):
    DatasetFactory(team=team, name="helpsteer3-sample")
    login("alice")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Team A")
    nav = page.get_by_role("navigation", name="Main")
    for section in ("Datasets", "Judges", "Runs", "Campaigns", "Reports", "Team"):
        expect(nav.get_by_role("link", name=section)).to_be_visible()
    page.get_by_role("link", name="helpsteer3-sample").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("helpsteer3-sample")


def test_wrong_password_is_refused(page, admin):
    page.goto("/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("didn't match")
