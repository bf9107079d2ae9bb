from django.contrib.auth import views as auth_views

from identity.members.forms import PortalLoginForm


class PortalLoginView(auth_views.LoginView):
    template_name = "members/login.html"
    authentication_form = PortalLoginForm
    redirect_authenticated_user = True


class PortalLogoutView(auth_views.LogoutView):
    pass
