from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactsConfig(AppConfig):
    name = "crm.contacts"
    label = "crm_contacts"
    verbose_name = _("Contacts")

    def ready(self) -> None:
        from crm.contacts.models import Company, Contact
        from crm.contacts.services import prepare_company, prepare_contact
        from crm.core.registry import RecordType, register

        register(RecordType("contact", Contact, prepare=prepare_contact, title=lambda c: str(c),
                            subtitle=lambda c: ", ".join(filter(None, [c.position,
                                                                       c.company.name if c.company_id else ""])),
                            default_columns=("first_name", "last_name", "company", "emails", "phones", "owner"),
                            default_ordering=("last_name", "first_name", "id"),
                            select_related=("owner__user", "company", "source", "contact_type")))
        register(RecordType("company", Company, slug="companies", prepare=prepare_company, title=lambda c: c.name,
                            subtitle=lambda c: ", ".join(filter(None, [c.city, c.nip and f"NIP {c.nip}"])),
                            default_columns=("name", "nip", "city", "phones", "owner"),
                            default_ordering=("name", "id"),
                            select_related=("owner__user", "source", "industry")))
