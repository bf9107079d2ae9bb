"""Pages of products and of a deal's products (included at the portal root by crm/urls.py)."""

from django.urls import path

from crm.products import views

urlpatterns = [
    path("crm/products/<int:pk>/photo/", views.photo, name="product-photo"),
    path("crm/products/<int:pk>/photo/file/", views.photo_file, name="product-photo-file"),
    path("crm/deals/<int:pk>/products/", views.deal_products, name="deal-products"),
    path("crm/deals/<int:pk>/products/<int:line_id>/delete/", views.remove_deal_product, name="deal-product-remove"),
]
