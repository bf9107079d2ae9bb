"""django.contrib.admin with the staff admin site (2FA required) as its default site."""

from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    default_site = "kompas.staff.admin_site.StaffAdminSite"
