from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from judgeapp.accounts.api import MembershipViewSet, TeamViewSet, me
from judgeapp.campaigns.api import AssignmentViewSet, CampaignViewSet, LabelViewSet
from judgeapp.core.views import health_json
from judgeapp.datasets.api import ComparisonViewSet, DatasetViewSet, ImportJobViewSet
from judgeapp.judging.api import (
    JudgeViewSet,
    JudgmentViewSet,
    PlaygroundViewSet,
    PrincipleSetViewSet,
    RunViewSet,
)
from judgeapp.reports.api import ReportViewSet

router = DefaultRouter()
router.register("teams", TeamViewSet, basename="team")
router.register("memberships", MembershipViewSet, basename="membership")
router.register("datasets", DatasetViewSet, basename="dataset")
router.register("comparisons", ComparisonViewSet, basename="comparison")
router.register("imports", ImportJobViewSet, basename="import")
router.register("judges", JudgeViewSet, basename="judge")
router.register("principle-sets", PrincipleSetViewSet, basename="principleset")
router.register("runs", RunViewSet, basename="run")
router.register("judgments", JudgmentViewSet, basename="judgment")
router.register("playground", PlaygroundViewSet, basename="playground")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("labels", LabelViewSet, basename="label")
router.register("assignments", AssignmentViewSet, basename="assignment")
router.register("reports", ReportViewSet, basename="report")

urlpatterns = [
    path("health/", health_json, name="api-health"),
    path("me/", me, name="api-me"),
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("", include(router.urls)),
]
