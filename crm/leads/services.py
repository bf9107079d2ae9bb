"""Rules for leads; conversion and repeat leads belong to the sales-flow work."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from crm.contacts.services import clean_contact_points
from crm.core.money import clean_currency
from crm.dictionaries.services import check_choice
from crm.leads.models import LeadStatus


def prepare_lead(values: dict, record, actor) -> dict:
    values = clean_contact_points(values)
    if record is None or "currency" in values:
        values["currency"] = clean_currency(values.get("currency"))
    if values.get("source") is not None:
        try:
            values["source"] = check_choice(values["source"], "source")
        except ValidationError as error:
            raise ValidationError({"source": error.messages}) from None
    status = values.get("status")
    if status == LeadStatus.CONVERTED and (record is None or record.status != LeadStatus.CONVERTED):
        raise ValidationError({"status": [_("A lead becomes converted by converting it, not by setting its status.")]})
    if status == LeadStatus.JUNK and not (values.get("junk_reason") or (record and record.junk_reason)):
        raise ValidationError({"junk_reason": [_("Say why the lead is junk.")]})
    return values
