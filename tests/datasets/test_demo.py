import pytest
from django.core.management import call_command
from django.urls import reverse

from judgeapp.campaigns.models import Label
from judgeapp.datasets.models import Comparison

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_team_admin_and_dataset_once(client, capsys):
    call_command("seed_demo", "--url", "http://127.0.0.1:8000/")
    out = capsys.readouterr().out
    assert "Log in as 'admin' with password" in out
    call_command("seed_demo")
    assert "password" not in capsys.readouterr().out
    assert Comparison.objects.filter(dataset__name="demo").count() == 12
    assert Label.objects.filter(kind="imported").count() == 36
    password = out.split("with password '")[1].split("'")[0]
    assert client.login(username="admin", password=password)
    page = client.get(reverse("datasets:index")).content.decode()
    assert "demo" in page
