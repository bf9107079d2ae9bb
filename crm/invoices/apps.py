from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InvoicesConfig(AppConfig):
    name = "crm.invoices"
    label = "crm_invoices"
    verbose_name = _("Invoices")

    def ready(self) -> None:
        from crm.core.registry import RecordType, register
        from crm.invoices.models import Invoice
        from crm.invoices.services import prepare_invoice, subtitle

        register(RecordType("invoice", Invoice, prepare=prepare_invoice, title=lambda i: str(i), subtitle=subtitle,
                            default_columns=("number", "buyer_name", "issue_date", "due_date", "total_gross",
                                             "status", "owner"),
                            default_ordering=("-created_at", "-id"),
                            read_only=frozenset({"number", "status"}),
                            select_related=("owner__user", "company", "contact", "deal")))
