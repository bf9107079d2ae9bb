from django.urls import path

from identity.members import member_views, views

app_name = "members"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("two-factor/", views.two_factor_step, name="two-factor"),
    path("two-factor/setup/", views.two_factor_setup, name="two-factor-setup"),
    path("logout/", views.PortalLogoutView.as_view(), name="logout"),
    path("sessions/", views.my_sessions, name="sessions"),
    path("invitation/<str:token>/", member_views.accept_invitation, name="invitation"),
]
