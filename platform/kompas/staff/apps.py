from django.apps import AppConfig


class StaffConfig(AppConfig):
    """The staff console on the public host, sign-in for global accounts there, and staff access to portals."""

    name = "kompas.staff"
    label = "staff"

