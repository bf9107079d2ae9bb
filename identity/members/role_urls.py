from django.urls import path

from identity.members import role_views

app_name = "roles"

urlpatterns = [
    path("", role_views.roles, name="list"),
    path("new/", role_views.create_role, name="create"),
    path("import/", role_views.import_rights, name="import"),
    path("<int:role_id>/rights/", role_views.save_rights, name="rights"),
    path("<int:role_id>/fields/", role_views.save_field_rules, name="fields"),
    path("departments/", role_views.add_department, name="add-department"),
    path("departments/<int:department_id>/move/", role_views.move, name="move-department"),
]
