"""Quotes over the REST API (included under /api/v1/)."""

from rest_framework.routers import SimpleRouter

from crm.quotes.api import QuoteViewSet

router = SimpleRouter()
router.register("quotes", QuoteViewSet, basename="api-quote")

urlpatterns = [*router.urls]
