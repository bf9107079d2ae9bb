"""Pages of the CRM on a portal's host; each area keeps its own ``urls`` module.

Order matters: fixed addresses (the deal board, task pages, the recycle bin) come before the
generic ``/crm/<type>/…`` patterns of lists and record pages.
"""

from django.urls import include, path

from crm.core import lookup_views

urlpatterns = [
    path("crm/lookup/<slug:slug>/", lookup_views.lookup, name="crm-lookup"),
    path("", include("crm.core.reassign_urls")),
    path("", include("crm.sales.urls")),
    path("", include("crm.duplicates.urls")),
    path("", include("crm.products.urls")),
    path("", include("crm.quotes.urls")),
    path("", include("crm.invoices.urls")),
    path("", include("crm.deals.urls")),
    path("", include("crm.tasks.urls")),
    path("", include("crm.core.page_urls")),
    path("", include("crm.core.record_urls")),
    path("", include("crm.core.list_urls")),
]
