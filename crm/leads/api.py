"""Leads over the REST API (``/api/v1/leads/``)."""

from __future__ import annotations

from crm.core.api import IdField, RecordSerializer, RecordViewSet, SummaryField, contact_points
from crm.leads.models import Lead


class LeadSerializer(RecordSerializer):
    entity = "lead"
    source = IdField()
    source_summary = SummaryField("source")
    contact = IdField()
    contact_summary = SummaryField("contact")
    company = IdField()
    company_summary = SummaryField("company")
    emails = contact_points()
    phones = contact_points()

    class Meta(RecordSerializer.Meta):
        model = Lead
        fields = [*RecordSerializer.COMMON, "title", "status", "first_name", "last_name", "company_name",
                  "position", "emails", "phones", "source", "source_summary", "value", "currency", "contact",
                  "contact_summary", "company", "company_summary", "is_repeat", "junk_reason", "converted_at",
                  "description"]


class LeadViewSet(RecordViewSet):
    code = "lead"
    serializer_class = LeadSerializer
    extra_select_related = ("contact", "company")
