"""Sign-in on the public host for global accounts (platform staff, partner members)."""

from django.urls import path

from kompas.staff import auth_views

urlpatterns = [
    path("login/", auth_views.login_view, name="public_login"),
    path("login/two-factor/", auth_views.two_factor_step, name="public_login_two_factor"),
    path("logout/", auth_views.logout_view, name="public_logout"),
]
