"""The portal API of identity: who am I, and the people directory (entity "member")."""

from __future__ import annotations

from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from identity.members import permissions
from identity.members.authentication import principal_of
from identity.members.models import ApiKey, Membership


class MemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")
    role = serializers.CharField(source="role.name", default=None)
    department = serializers.CharField(source="department.name", default=None)

    class Meta:
        model = Membership
        fields = ["id", "email", "full_name", "role", "department", "is_active", "joined_at"]


class MeView(APIView):
    def get(self, request: Request) -> Response:
        principal = principal_of(request)
        if principal is None:
            raise PermissionDenied()
        portal = {"name": request.tenant.name, "address": request.tenant.slug}
        if isinstance(principal, ApiKey):
            return Response({"portal": portal, "api_key": principal.name, "role": principal.role.name})
        return Response({"portal": portal, "member": MemberSerializer(principal).data})


class MemberListView(generics.ListAPIView):
    serializer_class = MemberSerializer

    def get_queryset(self):
        principal = principal_of(self.request)
        if not permissions.can(principal, "member", "read", creating=True):
            raise PermissionDenied(str(permissions.NotPermitted(entity_code="member", action="read")))
        return permissions.filter_queryset(principal, "member", "read", Membership.objects.select_related(
            "user", "role", "department").order_by("pk"))
