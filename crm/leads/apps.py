from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "crm.leads"
    label = "crm_leads"
    verbose_name = _("Leads")

    def ready(self) -> None:
        from crm.core.registry import RecordType, register
        from crm.leads.models import Lead
        from crm.leads.services import prepare_lead

        register(RecordType("lead", Lead, prepare=prepare_lead,
                            select_related=("owner__user", "source"), title=lambda lead: lead.title,
                            subtitle=lambda lead: " ".join(filter(None, [lead.first_name, lead.last_name,
                                                                         lead.company_name])),
                            default_columns=("title", "status", "first_name", "last_name", "value", "owner"),
                            read_only=frozenset({"is_repeat", "converted_at"})))
