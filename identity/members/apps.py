from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "identity.members"
    label = "members"
    verbose_name = _("Members")

    def ready(self) -> None:
        from billing.limits import register_usage_counter
        from billing.models import Resource
        from identity.members.selectors import count_seats_in_use

        register_usage_counter(Resource.SEATS, count_seats_in_use)

        from identity.members import portal_admins

        portal_admins.connect_signals()
