"""``/api/v1/invoices/`` (included before the API's catch-all 404)."""

from rest_framework.routers import SimpleRouter

from crm.invoices.api import InvoiceViewSet

router = SimpleRouter(use_regex_path=False)
router.register("invoices", InvoiceViewSet, basename="api-invoice")

urlpatterns = [*router.urls]
