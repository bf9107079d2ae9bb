from django.urls import path

from identity.members import member_views

app_name = "people"

urlpatterns = [
    path("", member_views.people, name="list"),
    path("<int:membership_id>/role/", member_views.change_role, name="role"),
    path("<int:membership_id>/active/", member_views.set_active, name="active"),
    path("<int:membership_id>/logout/", member_views.force_logout, name="logout"),
    path("join-requests/<int:request_id>/", member_views.decide_join, name="decide-join"),
    path("invitations/<int:invitation_id>/revoke/", member_views.revoke_invitation, name="revoke-invitation"),
]
