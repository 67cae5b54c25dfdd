from django.contrib import admin
from django.urls import include, path

from judgeapp.accounts.urls import auth_urlpatterns
from judgeapp.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("health/", core_views.health, name="health"),
    path("", include(auth_urlpatterns)),
    path("team/", include("judgeapp.accounts.urls")),
    path("datasets/", include("judgeapp.datasets.urls")),
    path("", include("judgeapp.judging.urls")),
    path("campaigns/", include("judgeapp.campaigns.urls")),
    path("reports/", include("judgeapp.reports.urls")),
    path("api/", include("judgeapp.api.urls")),
    path("admin/", admin.site.urls),
]
