from django.urls import path

from kompas.site import views

app_name = "site"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("signup/", views.signup, name="signup"),
    path("signup/address/", views.check_address, name="signup-address"),
    path("signup/sent/", views.signup_sent, name="signup-sent"),
    path("signup/confirm/<str:token>/", views.confirm, name="signup-confirm"),
]
