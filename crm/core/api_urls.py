"""The CRM's REST API, mounted at ``/api/v1/`` on each portal's host (kompas.urls_portal)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from crm.activities.api import ActivityViewSet
from crm.contacts.api import CompanyViewSet, ContactViewSet
from crm.core.api import SavedViewViewSet, SearchView
from crm.deals.api import DealViewSet, PipelineViewSet
from crm.leads.api import LeadViewSet
from crm.tasks.api import TaskViewSet

router = SimpleRouter(use_regex_path=False)
router.register("contacts", ContactViewSet, basename="api-contact")
router.register("companies", CompanyViewSet, basename="api-company")
router.register("leads", LeadViewSet, basename="api-lead")
router.register("deals", DealViewSet, basename="api-deal")
router.register("tasks", TaskViewSet, basename="api-task")
router.register("pipelines", PipelineViewSet, basename="api-pipeline")
router.register("activities", ActivityViewSet, basename="api-activity")
router.register("views", SavedViewViewSet, basename="api-view")

urlpatterns = [
    # Generated per request for the portal of the host, so each portal's custom fields are in it.
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("search/", SearchView.as_view(), name="api-search"),
    *router.urls,
]
