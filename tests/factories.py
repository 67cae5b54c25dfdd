import factory

from judgeapp.accounts.models import Membership, Team, User
from judgeapp.campaigns.models import Campaign, Label
from judgeapp.datasets.models import Comparison, Dataset, ImportJob
from judgeapp.judging.models import Judge, JudgeRun, Judgment, PrincipleSet

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.ADMIN


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dataset

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"dataset-{n}")


class ComparisonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comparison

    dataset = factory.SubFactory(DatasetFactory)
    external_id = factory.Sequence(lambda n: f"item-{n}")
    conversation = factory.LazyFunction(lambda: [{"role": "user", "content": "What about 1+2?"}])
    response_1 = "1+2=4"
    response_2 = "1+2=3"
    metadata = factory.LazyFunction(lambda: {"domain": "math"})


class ImportJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImportJob

    dataset = factory.SubFactory(DatasetFactory)
    filename = "data.jsonl"


class JudgeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Judge

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"judge-{n}")
    base_url = "http://127.0.0.1:9/v1"
    model = "nvidia/Qwen3-Nemotron-235B-A22B-GenRM"


class PrincipleSetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PrincipleSet

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"principles-{n}")
    principles = factory.LazyFunction(lambda: ["Correctness matters most."])


class JudgeRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = JudgeRun

    judge = factory.SubFactory(JudgeFactory)
    team = factory.SelfAttribute("judge.team")
    dataset = factory.SubFactory(DatasetFactory, team=factory.SelfAttribute("..team"))


class JudgmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Judgment

    run = factory.SubFactory(JudgeRunFactory)
    comparison = factory.SubFactory(
        ComparisonFactory, dataset=factory.SelfAttribute("..run.dataset")
    )
    status = Judgment.Status.DONE
    score_1 = 2
    score_2 = 4
    ranking = 5
    preference = 2
    parse_status = Judgment.ParseStatus.OK


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    dataset = factory.SubFactory(DatasetFactory)
    team = factory.SelfAttribute("dataset.team")
    name = factory.Sequence(lambda n: f"campaign-{n}")


class LabelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Label

    campaign = factory.SubFactory(CampaignFactory)
    comparison = factory.SubFactory(
        ComparisonFactory, dataset=factory.SelfAttribute("..campaign.dataset")
    )
    annotator = factory.SubFactory(UserFactory)
    preference = 2
