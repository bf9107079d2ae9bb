"""The app shell's own pages (search, notifications) and Settings → CRM (custom fields, lists)."""

from django.urls import path

from crm.core import page_views, settings_views

urlpatterns = [
    path("search/", page_views.search_page, name="crm-search"),
    path("notifications/", page_views.notifications_page, name="crm-notifications"),
    path("notifications/count/", page_views.notifications_count, name="crm-notifications-count"),
    path("settings/crm/fields/", settings_views.custom_fields, name="crm-settings-fields"),
    path("settings/crm/fields/order/", settings_views.custom_field_order, name="crm-settings-fields-order"),
    path("settings/crm/fields/<int:pk>/", settings_views.custom_field_edit, name="crm-settings-field"),
    path("settings/crm/fields/<int:pk>/switch/", settings_views.custom_field_switch, name="crm-settings-field-switch"),
    path("settings/crm/fields/<int:pk>/move/", settings_views.custom_field_move, name="crm-settings-field-move"),
    path("settings/crm/lists/", settings_views.lists, name="crm-settings-lists"),
    path("settings/crm/lists/order/", settings_views.list_order, name="crm-settings-lists-order"),
    path("settings/crm/lists/<int:pk>/", settings_views.list_value, name="crm-settings-list-value"),
    path("settings/crm/lists/<int:pk>/delete/", settings_views.list_value_delete, name="crm-settings-list-delete"),
    path("settings/crm/lists/<int:pk>/move/", settings_views.list_value_move, name="crm-settings-list-move"),
]
