from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QuotesConfig(AppConfig):
    name = "crm.quotes"
    label = "crm_quotes"
    verbose_name = _("Quotes")

    def ready(self) -> None:
        from crm.core.registry import RecordType, register
        from crm.quotes.models import Quote
        from crm.quotes.services import prepare_quote

        register(RecordType("quote", Quote, prepare=prepare_quote,
                            title=lambda quote: " — ".join(filter(None, [quote.number, quote.title])),
                            subtitle=lambda quote: quote.get_status_display(),
                            default_columns=("number", "title", "deal", "company", "status", "valid_until", "owner"),
                            default_ordering=("-created_at", "-id"),
                            select_related=("owner__user", "deal", "company", "contact")))
