from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from billing import closing, partner_billing, trials

        closing.connect_signals()
        partner_billing.connect_signals()
        trials.connect_signals()
