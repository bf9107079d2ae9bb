"""Invoice pages (before the generic /crm/<type>/… pages in crm/urls.py) and Settings → Invoices."""

from django.urls import path

from crm.invoices import views

urlpatterns = [
    path("crm/invoices/", views.invoice_list, name="invoice-list"),
    path("crm/invoices/new/", views.invoice_new, name="invoice-new"),
    path("crm/invoices/lines/", views.invoice_lines, name="invoice-lines"),
    path("crm/invoices/<int:pk>/", views.invoice_detail, name="invoice"),
    path("crm/invoices/<int:pk>/edit/", views.invoice_edit, name="invoice-edit"),
    path("crm/invoices/<int:pk>/issue/", views.invoice_issue, name="invoice-issue"),
    path("crm/invoices/<int:pk>/send/", views.invoice_send, name="invoice-send"),
    path("crm/invoices/<int:pk>/pay/", views.invoice_pay, name="invoice-pay"),
    path("crm/invoices/<int:pk>/convert/", views.invoice_convert, name="invoice-convert"),
    path("crm/invoices/<int:pk>/cancel/", views.invoice_cancel, name="invoice-cancel"),
    path("crm/invoices/<int:pk>/recurring/", views.invoice_recurring, name="invoice-recurring"),
    path("crm/invoices/<int:pk>/recurring/<int:plan>/stop/", views.invoice_recurring_stop,
         name="invoice-recurring-stop"),
    path("crm/invoices/<int:pk>/pdf/", views.invoice_pdf_download, name="invoice-pdf"),
    path("settings/crm/invoices/", views.invoice_settings, name="invoice-settings"),
]
