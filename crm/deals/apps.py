from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DealsConfig(AppConfig):
    name = "crm.deals"
    label = "crm_deals"
    verbose_name = _("Deals")

    def ready(self) -> None:
        from crm.core.registry import RecordType, register
        from crm.deals.models import Deal
        from crm.deals.services import pipeline_access_q, prepare_deal

        register(RecordType("deal", Deal, prepare=prepare_deal, access_q=pipeline_access_q,
                            m2m_fields=("contacts",),
                            select_related=("owner__user", "pipeline", "stage", "company", "source"),
                            title=lambda deal: deal.title,
                            subtitle=lambda deal: f"{deal.value:,.2f} {deal.currency}".replace(",", "\u00a0"),
                            default_columns=("title", "stage", "value", "expected_close_date", "owner"),
                            read_only=frozenset({"closed_at", "stage_changed_at", "board_position", "lead"})))
