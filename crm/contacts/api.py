"""Contacts and companies over the REST API (``/api/v1/contacts/``, ``/api/v1/companies/``)."""

from __future__ import annotations

from rest_framework import serializers

from crm.contacts.models import Company, Contact
from crm.core.api import IdField, RecordSerializer, RecordViewSet, SummaryField, contact_points

ADDRESS = ["street", "postal_code", "city", "region", "country"]


class CompanySerializer(RecordSerializer):
    entity = "company"
    industry = IdField()
    industry_summary = SummaryField("industry")
    source = IdField()
    source_summary = SummaryField("source")
    emails = contact_points()
    phones = contact_points()

    class Meta(RecordSerializer.Meta):
        model = Company
        fields = [*RecordSerializer.COMMON, "name", "nip", "regon", "vat_id", "company_type", "industry",
                  "industry_summary", "website", "emails", "phones", "source", "source_summary", "employees",
                  "description", *ADDRESS]


class ContactSerializer(RecordSerializer):
    entity = "contact"
    full_name = serializers.CharField(read_only=True)
    company = IdField()
    company_summary = SummaryField("company")
    source = IdField()
    source_summary = SummaryField("source")
    contact_type = IdField()
    contact_type_summary = SummaryField("contact_type")
    emails = contact_points()
    phones = contact_points()

    class Meta(RecordSerializer.Meta):
        model = Contact
        fields = [*RecordSerializer.COMMON, "first_name", "last_name", "full_name", "position", "company",
                  "company_summary", "emails", "phones", "birthday", "source", "source_summary", "contact_type",
                  "contact_type_summary", "description", *ADDRESS]


class ContactViewSet(RecordViewSet):
    code = "contact"
    serializer_class = ContactSerializer


class CompanyViewSet(RecordViewSet):
    code = "company"
    serializer_class = CompanySerializer
