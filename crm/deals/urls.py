"""The deal board (``/crm/deals/board/…``) and Settings → Pipelines and stages
(``/settings/crm/pipelines/…``). Included at the root by crm/urls.py before the generic
``/crm/<type>/…`` pages, so ``/crm/deals/board/`` is never read as a record."""

from django.urls import path

from crm.deals import settings_views, views

app_name = "deals"

urlpatterns = [
    path("crm/deals/board/", views.board, name="board"),
    path("crm/deals/board/<int:pipeline_id>/", views.board, name="board-pipeline"),
    path("crm/deals/board/<int:pipeline_id>/stages/<int:stage_id>/more/", views.column_page, name="column-page"),
    path("crm/deals/board/<int:pipeline_id>/new/", views.new_deal, name="new-deal"),
    path("crm/deals/board/move/<int:pk>/", views.move, name="move"),
    path("crm/deals/board/card-fields/", views.card_fields, name="card-fields"),
    path("settings/crm/pipelines/", settings_views.pipelines, name="pipelines"),
    path("settings/crm/pipelines/<int:pk>/", settings_views.pipeline, name="pipeline"),
    path("settings/crm/pipelines/<int:pk>/state/", settings_views.pipeline_state, name="pipeline-state"),
    path("settings/crm/pipelines/<int:pk>/stages/add/", settings_views.add_stage, name="stage-add"),
    path("settings/crm/pipelines/<int:pk>/stages/order/", settings_views.order_stages, name="stage-order"),
    path("settings/crm/pipelines/<int:pk>/stages/<int:stage_id>/", settings_views.stage, name="stage"),
    path("settings/crm/pipelines/<int:pk>/stages/<int:stage_id>/move/", settings_views.move_stage,
         name="stage-move"),
    path("settings/crm/pipelines/<int:pk>/stages/<int:stage_id>/delete/", settings_views.delete_stage,
         name="stage-delete"),
]
