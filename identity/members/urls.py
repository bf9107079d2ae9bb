from django.urls import path

from identity.members import member_views, views

app_name = "members"

urlpatterns = [
    path("login/", views.PortalLoginView.as_view(), name="login"),
    path("logout/", views.PortalLogoutView.as_view(), name="logout"),
    path("invitation/<str:token>/", member_views.accept_invitation, name="invitation"),
]
