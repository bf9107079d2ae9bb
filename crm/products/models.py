"""The products catalogue and the products of a deal (seed 000 L908–965)."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from crm.core.models import Record, SearchDocument, record_indexes
from crm.products.pricing import VAT_RATES, line_amounts

VAT_CHOICES = [(code, f"{code}%" if code.isdigit() else code) for code in VAT_RATES]
UNITS = ["szt.", "godz.", "kg", "m", "m²", "m³", "l", "kpl.", "usługa"]


class Product(Record):
    name = models.CharField(_("name"), max_length=250)
    sku = models.CharField(_("SKU"), max_length=64, blank=True, help_text=_("Your own product code."))
    price = models.DecimalField(_("net price"), max_digits=14, decimal_places=2, default=Decimal(0),
                                validators=[MinValueValidator(Decimal(0))])
    currency = models.CharField(_("currency"), max_length=3)
    vat_rate = models.CharField(_("VAT rate"), max_length=4, choices=VAT_CHOICES, default="23")
    unit = models.CharField(_("unit"), max_length=20, default="szt.")
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    # Path in file storage under the portal's prefix; set through crm.products.services.set_product_photo.
    photo = models.CharField(_("photo"), max_length=300, blank=True, editable=False)
    search_text = models.GeneratedField(expression=SearchDocument(F("name"), F("sku")),
                                        output_field=models.TextField(), db_persist=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        indexes = record_indexes("product", "name", "price")
        constraints = [models.UniqueConstraint(Lower("sku"), condition=Q(deleted_at__isnull=True) & ~Q(sku=""),
                                               name="product_sku_unique_live")]

    def __str__(self) -> str:
        return self.name


class LineBase(models.Model):
    """A priced line: of a deal, a quote or an invoice."""

    product = models.ForeignKey(Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                verbose_name=_("product"))
    name = models.CharField(_("name"), max_length=250)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3, default=Decimal(1),
                                   validators=[MinValueValidator(Decimal("0.001"))])
    unit = models.CharField(_("unit"), max_length=20, default="szt.")
    unit_price = models.DecimalField(_("unit net price"), max_digits=14, decimal_places=2,
                                     validators=[MinValueValidator(Decimal(0))])
    discount_percent = models.DecimalField(_("discount (%)"), max_digits=5, decimal_places=2, default=Decimal(0),
                                           validators=[MinValueValidator(Decimal(0)),
                                                       MaxValueValidator(Decimal(100))])
    vat_rate = models.CharField(_("VAT rate"), max_length=4, choices=VAT_CHOICES, default="23")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["position", "id"]

    def amounts(self, extra_discount=0):
        discount = Decimal(str(self.discount_percent or 0))
        if extra_discount:
            extra = Decimal(str(extra_discount))
            discount = Decimal(100) - (Decimal(100) - discount) * (Decimal(100) - extra) / Decimal(100)
        return line_amounts(quantity=self.quantity, unit_price=self.unit_price, discount_percent=discount,
                            vat_rate=self.vat_rate)


class DealProduct(LineBase):
    deal = models.ForeignKey("crm_deals.Deal", on_delete=models.CASCADE, related_name="product_lines")

    class Meta(LineBase.Meta):
        verbose_name = _("product of a deal")
        verbose_name_plural = _("products of a deal")
        indexes = [models.Index(fields=["deal", "position"], name="deal_product_order")]

    def __str__(self) -> str:
        return self.name
