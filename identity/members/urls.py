from django.urls import path

from identity.members import handover, member_views, views

app_name = "members"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("two-factor/", views.two_factor_step, name="two-factor"),
    path("two-factor/setup/", views.two_factor_setup, name="two-factor-setup"),
    path("logout/", views.PortalLogoutView.as_view(), name="logout"),
    path("sessions/", views.my_sessions, name="sessions"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", views.PasswordResetSentView.as_view(), name="password-reset-sent"),
    path("password-reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(),
         name="password-reset-confirm"),
    path("password-reset/done/", views.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path("invitation/<str:token>/", member_views.accept_invitation, name="invitation"),
    path("join/", member_views.ask_to_join, name="join"),
    path("join/<str:token>/", member_views.confirm_join, name="confirm-join"),
    path("handover/<str:token>/", handover.handover, name="handover"),
]
