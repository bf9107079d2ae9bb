"""``POST /api/v1/duplicates/check/`` and ``POST /api/v1/duplicates/merge/``.

Creating a record through ``POST /api/v1/<type>/`` does not check for duplicates yet; a client that
wants the warning asks ``check`` first with the same values and creates only when it returns no
matches or the user chose to create anyway.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.core import selectors as core_selectors
from crm.core.api import ApiViewMixin
from crm.duplicates import selectors, services


class MatchSerializer(serializers.Serializer):
    type = serializers.CharField()
    id = serializers.IntegerField()
    title = serializers.CharField()
    subtitle = serializers.CharField()
    url = serializers.CharField()
    reasons = serializers.ListField(child=serializers.ChoiceField(choices=list(selectors.REASONS)))
    reason_labels = serializers.ListField(child=serializers.CharField())


class CheckSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=selectors.SUPPORTED)
    values = serializers.DictField(help_text="The record's values as for creating it: first_name, last_name, "
                                             "name, title, company, nip, emails, phones.")
    exclude = serializers.IntegerField(required=False, help_text="The record being edited, not a duplicate of itself.")
    fuzzy = serializers.BooleanField(required=False, allow_null=True, default=None,
                                     help_text="Also look for names with typos (slower on big portals; by default "
                                               "only while the portal has fewer than 200 000 such records).")


class MergeSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=selectors.SUPPORTED)
    keep = serializers.IntegerField()
    others = serializers.ListField(child=serializers.IntegerField(), min_length=1,
                                   max_length=services.MAX_MERGED - 1)
    choices = serializers.DictField(required=False, default=dict,
                                    help_text='Field → id of the record whose value to keep, or "combine" for '
                                              'e-mails, phones, tags and contacts; custom fields as "custom.<code>". '
                                              "Fields left out keep the kept record's value.")


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise serializers.ValidationError(serializer.errors)
    return serializer.validated_data


class CheckView(ApiViewMixin, APIView):
    """Existing records the given values may duplicate, and why (same e-mail, phone, NIP, similar name)."""

    @extend_schema(request=CheckSerializer, responses=MatchSerializer(many=True))
    def post(self, request: Request) -> Response:
        data = _valid(CheckSerializer, request.data)
        matches = selectors.possible_duplicates(data["type"], data["values"], exclude_pk=data.get("exclude"),
                                                principal=self.actor, fuzzy=data.get("fuzzy"))
        return Response({"results": [match.as_dict() for match in matches]})


class MergeView(ApiViewMixin, APIView):
    """Merge ``others`` into ``keep``: chosen values, every relation re-pointed, the others to the recycle bin."""

    @extend_schema(request=MergeSerializer)
    def post(self, request: Request) -> Response:
        data = _valid(MergeSerializer, request.data)
        code = data["type"]
        for pk in [data["keep"], *data["others"]]:
            core_selectors.record_for(self.actor, code, pk)  # 404 for what the caller cannot see
        if data["keep"] in data["others"]:
            raise DjangoValidationError({"others": [_("The kept record cannot be merged into itself.")]})
        kept = services.merge_records(actor=self.actor, code=code, keep=data["keep"], others=data["others"],
                                      choices=data["choices"])
        return Response({"type": code, "id": kept.pk, "merged": data["others"]})
