from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProductsConfig(AppConfig):
    name = "crm.products"
    label = "crm_products"
    verbose_name = _("Products")

    def ready(self) -> None:
        from crm.core.registry import RecordType, register
        from crm.products.models import Product
        from crm.products.services import prepare_product

        register(RecordType("product", Product, prepare=prepare_product, title=lambda product: product.name,
                            subtitle=lambda product: " · ".join(filter(None, [
                                product.sku, f"{product.price:,.2f} {product.currency}".replace(",", "\u00a0")])),
                            default_columns=("name", "sku", "price", "vat_rate", "unit", "is_active"),
                            default_ordering=("name", "id")))
