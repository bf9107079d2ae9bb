from django.urls import path

from kompas.site import views

app_name = "site"

urlpatterns = [path("", views.landing, name="landing")]
