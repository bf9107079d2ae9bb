"""Quote pages (included at the portal root by crm/urls.py) and the client's link /q/<token>/."""

from django.urls import path

from crm.quotes import settings_views, views

urlpatterns = [
    path("crm/deals/<int:pk>/quotes/", views.deal_quotes, name="deal-quotes"),
    path("crm/deals/<int:pk>/quotes/new/", views.create_for_deal, name="deal-quote-new"),
    path("crm/quotes/<int:pk>/items/", views.items, name="quote-items"),
    path("crm/quotes/<int:pk>/items/<int:line_id>/delete/", views.remove_item, name="quote-item-remove"),
    path("crm/quotes/<int:pk>/costs/", views.add_cost, name="quote-cost-add"),
    path("crm/quotes/<int:pk>/costs/<int:cost_id>/delete/", views.remove_cost, name="quote-cost-remove"),
    path("crm/quotes/<int:pk>/pdf/", views.pdf, name="quote-pdf"),
    path("crm/quotes/<int:pk>/send/", views.send, name="quote-send"),
    path("crm/quotes/<int:pk>/status/", views.set_status, name="quote-status"),
    path("settings/crm/quotes/", settings_views.quote_settings, name="quote-settings"),
    path("q/<str:token>/", views.public, name="quote-public"),
    path("q/<str:token>/pdf/", views.public_pdf, name="quote-public-pdf"),
    path("q/<str:token>/beacon/", views.public_beacon, name="quote-public-beacon"),
    path("q/<str:token>/decide/", views.public_decide, name="quote-public-decide"),
]
