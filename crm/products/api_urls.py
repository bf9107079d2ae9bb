"""Products and a deal's products over the REST API (included under /api/v1/)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from crm.products.api import DealProductsView, DealProductView, ProductViewSet

router = SimpleRouter(use_regex_path=False)
router.register("products", ProductViewSet, basename="api-product")

urlpatterns = [
    path("deals/<int:deal_id>/products/", DealProductsView.as_view(), name="api-deal-products"),
    path("deals/<int:deal_id>/products/<int:pk>/", DealProductView.as_view(), name="api-deal-product"),
    *router.urls,
]
