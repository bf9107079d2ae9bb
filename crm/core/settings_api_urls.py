from django.urls import path

from crm.core import export_api, settings_api

urlpatterns = [
    path("export/<slug:code>/", export_api.ExportView.as_view(), name="api-export"),
    path("settings/custom-fields/", settings_api.CustomFieldList.as_view(), name="api-custom-fields"),
    path("settings/custom-fields/<int:pk>/", settings_api.CustomFieldDetail.as_view(), name="api-custom-field"),
    path("settings/lists/", settings_api.ChoiceList.as_view(), name="api-choices"),
    path("settings/lists/<int:pk>/", settings_api.ChoiceDetail.as_view(), name="api-choice"),
    path("settings/pipelines/", settings_api.PipelineAdminList.as_view(), name="api-pipelines-admin"),
    path("settings/pipelines/<int:pk>/", settings_api.PipelineAdminDetail.as_view(), name="api-pipeline-admin"),
    path("settings/pipelines/<int:pk>/stages/", settings_api.StageList.as_view(), name="api-stages"),
    path("settings/pipelines/<int:pk>/stage-order/", settings_api.StageOrder.as_view(), name="api-stage-order"),
    path("settings/stages/<int:pk>/", settings_api.StageDetail.as_view(), name="api-stage"),
]
