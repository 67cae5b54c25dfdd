import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from judgeapp.accounts.models import Membership, Team, User
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_login_page_signs_in_and_shows_the_dashboard(client, admin, password, team):
    reply = client.post(reverse("login"), {"username": "alice", "password": password}, follow=True)
    assert reply.status_code == 200
    assert team.name in reply.content.decode()
    assert reply.wsgi_request.user == admin


def test_pages_need_login(client):
    reply = client.get(reverse("datasets:index"))
    assert reply.status_code == 302
    assert reply["Location"].startswith(reverse("login"))


def test_user_in_no_team_is_told_what_to_do(client, user_without_team):
    client.force_login(user_without_team)
    reply = client.get(reverse("home"))
    assert reply.status_code == 403
    assert "not in a team" in reply.content.decode()


def test_admin_adds_member_by_email_and_sets_role(admin_client, team):
    newcomer = UserFactory(username="ned", email="ned@example.org")
    reply = admin_client.post(
        reverse("accounts:member_add"),
        {"identifier": "NED@example.org", "role": "annotator"},
        follow=True,
    )
    assert "Added ned as annotator" in reply.content.decode()
    membership = Membership.objects.get(team=team, user=newcomer)
    admin_client.post(reverse("accounts:member_role", args=[membership.pk]), {"role": "viewer"})
    membership.refresh_from_db()
    assert membership.role == "viewer"
    admin_client.post(reverse("accounts:member_remove", args=[membership.pk]))
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_adding_unknown_user_names_the_problem(admin_client, team):
    reply = admin_client.post(
        reverse("accounts:member_add"), {"identifier": "ghost", "role": "viewer"}, follow=True
    )
    assert "No user with the username or e-mail &#x27;ghost&#x27;" in reply.content.decode()
    assert Membership.objects.filter(team=team).count() == 1


def test_last_admin_cannot_leave_or_be_demoted(admin_client, admin, team):
    own = Membership.objects.get(team=team, user=admin)
    reply = admin_client.post(
        reverse("accounts:member_role", args=[own.pk]), {"role": "viewer"}, follow=True
    )
    assert "at least one admin" in reply.content.decode()
    admin_client.post(reverse("accounts:member_remove", args=[own.pk]))
    own.refresh_from_db()
    assert own.role == "admin"


def test_annotator_cannot_manage_members(client, annotator, viewer, team):
    client.force_login(annotator)
    target = Membership.objects.get(team=team, user=viewer)
    assert (
        client.post(
            reverse("accounts:member_role", args=[target.pk]), {"role": "admin"}
        ).status_code
        == 403
    )
    assert client.post(reverse("accounts:member_remove", args=[target.pk])).status_code == 403
    target.refresh_from_db()
    assert target.role == "viewer"
    page = client.get(reverse("accounts:members")).content.decode()
    assert "Add a member" not in page and "victor" in page


def test_api_membership_changes_need_admin(annotator, viewer, team):
    api = APIClient()
    api.force_authenticate(annotator)
    target = Membership.objects.get(team=team, user=viewer)
    reply = api.patch(f"/api/memberships/{target.pk}/", {"role": "admin"})
    assert reply.status_code == 403
    assert "Only an admin" in reply.json()["detail"]


def test_team_switcher_changes_current_team(client, admin, team):
    second = MembershipFactory(user=admin, team__name="Zeta team").team
    client.force_login(admin)
    assert "Team A" in client.get(reverse("home")).content.decode().split("<h1>")[1]
    client.post(reverse("accounts:switch"), {"team": second.pk, "next": "/"})
    assert "Zeta team" in client.get(reverse("home")).content.decode().split("<h1>")[1]


def test_team_switcher_refuses_foreign_team(client, admin, other_team):
    client.force_login(admin)
    assert client.post(reverse("accounts:switch"), {"team": other_team.pk}).status_code == 404


def test_create_team_is_idempotent_and_prints_password_once(capsys):
    call_command("create_team", "Research", "--admin", "rita")
    first = capsys.readouterr().out
    assert "Password for rita:" in first
    call_command("create_team", "Research", "--admin", "rita")
    second = capsys.readouterr().out
    assert "Password" not in second
    assert Team.objects.filter(name="Research").count() == 1
    assert Membership.objects.get(team__name="Research", user__username="rita").role == "admin"
    password = first.split("Password for rita:")[1].strip()
    assert User.objects.get(username="rita").check_password(password)


def test_create_token_prints_a_working_token(admin, capsys):
    call_command("create_token", "alice")
    key = capsys.readouterr().out.strip()
    assert Token.objects.get(user=admin).key == key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    me = api.get("/api/me/").json()
    assert me["username"] == "alice"
    assert me["teams"] == [{"id": admin.teams.get().pk, "name": "Team A", "role": "admin"}]


def test_obtain_token_with_password(admin, password):
    reply = APIClient().post("/api/auth/token/", {"username": "alice", "password": password})
    assert reply.status_code == 200
    assert reply.json()["token"] == Token.objects.get(user=admin).key


def test_admin_can_create_the_account_of_a_new_annotator(admin_client, team):
    reply = admin_client.post(
        reverse("accounts:member_add"),
        {"identifier": "zoe@example.org", "role": "annotator", "create_user": "on"},
        follow=True,
    )
    page = reply.content.decode()
    assert "Added zoe as annotator" in page
    password = page.split("password ")[1].split(" (shown once)")[0]
    zoe = User.objects.get(username="zoe")
    assert zoe.email == "zoe@example.org" and zoe.check_password(password)
    assert Membership.objects.get(team=team, user=zoe).role == "annotator"


def test_unusable_username_is_refused_with_the_reason(admin_client, team):
    reply = admin_client.post(
        reverse("accounts:member_add"),
        {"identifier": "two words", "role": "viewer", "create_user": "on"},
        follow=True,
    )
    assert "cannot be a username" in reply.content.decode()
    assert not User.objects.filter(username="two words").exists()
