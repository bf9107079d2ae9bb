"""Rules of the products catalogue and of the products on a deal.

Products are records: they are written through crm.core.services (``prepare_product`` holds their
rules). Lines of a deal are plain rows written here, with the deal's edit right and a history line
"products" on the deal.
"""

from __future__ import annotations

import io
import secrets
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils.translation import gettext as _

from crm.core.models import ChangeEntry, ChangeKind
from crm.core.money import clean_currency
from crm.products.models import DealProduct, Product
from crm.products.pricing import VAT_RATES, document_totals
from identity.members import permissions
from identity.members.models import ApiKey
from identity.members.selectors import member_label

PHOTO_MAX_SIDE = 1200
PHOTO_MAX_BYTES = 10 * 1024 * 1024
LINE_FIELDS = ("product", "name", "quantity", "unit", "unit_price", "discount_percent", "vat_rate", "position")


def prepare_product(values: dict, record: Product | None, actor) -> dict:
    """Currency defaults to the portal's; the SKU is unique among live products, whatever its case."""
    if record is None or "currency" in values:
        values["currency"] = clean_currency(values.get("currency"))
    if "vat_rate" in values and values["vat_rate"] not in VAT_RATES:
        raise ValidationError({"vat_rate": [_("Choose one of the Polish VAT rates: %(rates)s.")
                                            % {"rates": ", ".join(VAT_RATES)}]})
    if "sku" in values:
        sku = (values.get("sku") or "").strip()
        values["sku"] = sku
        if sku:
            taken = Product.objects.alive().filter(sku__iexact=sku)
            if record is not None:
                taken = taken.exclude(pk=record.pk)
            if taken.exists():
                raise ValidationError({"sku": [_("Another product already has the SKU “%(sku)s”.") % {"sku": sku}]})
    return values


def photo_prefix() -> str:
    return f"portals/{connection.schema_name}/products/"


@transaction.atomic
def set_product_photo(*, actor, product: Product, upload) -> Product:
    """Store a JPEG or PNG photo of at most 1200×1200 px (larger ones are scaled down, keeping the
    proportions) under the portal's own prefix in file storage."""
    from PIL import Image, UnidentifiedImageError

    locked = Product.objects.select_for_update().get(pk=product.pk)
    permissions.require(actor, "product", "edit", owner=locked.owner)
    if upload is None:
        raise ValidationError({"photo": [_("Choose a photo to upload.")]})
    if upload.size > PHOTO_MAX_BYTES:
        raise ValidationError({"photo": [_("The photo can be at most 10 MB.")]})
    try:
        image = Image.open(upload)
        image_format = image.format
        image.load()
    except (UnidentifiedImageError, OSError):
        raise ValidationError({"photo": [_("The photo must be a JPEG or PNG image.")]}) from None
    if image_format not in {"PNG", "JPEG"}:
        raise ValidationError({"photo": [_("The photo must be a JPEG or PNG image.")]})
    if image.width > PHOTO_MAX_SIDE or image.height > PHOTO_MAX_SIDE:
        image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.convert("RGB").save(buffer, format="JPEG", quality=88)
        extension = "jpg"
    else:
        image.save(buffer, format="PNG", optimize=True)
        extension = "png"
    path = default_storage.save(f"{photo_prefix()}{locked.pk}-{secrets.token_hex(6)}.{extension}",
                                ContentFile(buffer.getvalue()))
    previous = locked.photo
    locked.photo = path
    locked.save(update_fields=["photo", "updated_at"])
    _history(actor, "product", locked.pk, "photo", _("photo"), previous.rsplit("/", 1)[-1] if previous else "",
             path.rsplit("/", 1)[-1])
    if previous:
        transaction.on_commit(lambda: default_storage.delete(previous))
    return locked


def _history(actor, entity: str, record_id: int, field: str, label: str, old: str, new: str) -> None:
    ChangeEntry.objects.create(entity=entity, record_id=record_id, kind=ChangeKind.UPDATED, field=field,
                               field_label=label, old_value=old, new_value=new,
                               actor_id=actor.pk if actor is not None and not isinstance(actor, ApiKey) else None,
                               actor_label=member_label(actor))


# --- Products on a deal ----------------------------------------------------------------------------

def _decimal(values: dict, name: str, default=None) -> Decimal | None:
    raw = values.get(name, default)
    if raw in (None, ""):
        return default
    try:
        return Decimal(str(raw).replace(",", ".").replace("\u00a0", "").replace(" ", ""))
    except (InvalidOperation, ValueError):
        raise ValidationError({name: [_("Enter a number.")]}) from None


def clean_line_values(values: dict, line) -> None:
    """Apply ``values`` to a deal or quote line: a catalogue product fills what was not given."""
    unknown = set(values) - set(LINE_FIELDS)
    if unknown:
        message = _("This field does not exist or cannot be changed.")
        raise ValidationError({name: [message] for name in sorted(unknown)})
    if "product" in values:
        product_id = getattr(values["product"], "pk", values["product"])
        product = None
        if product_id not in (None, ""):
            product = Product.objects.alive().filter(pk=product_id).first()
            if product is None:
                raise ValidationError({"product": [_("No such product in the catalogue.")]})
        line.product = product
        if product is not None:
            line.name = values.get("name") or product.name
            line.unit = values.get("unit") or product.unit
            line.vat_rate = values.get("vat_rate") or product.vat_rate
            if values.get("unit_price") in (None, ""):
                line.unit_price = product.price
    for name in ("name", "unit", "vat_rate"):
        if values.get(name) not in (None, ""):
            setattr(line, name, str(values[name]).strip())
    for name in ("quantity", "unit_price", "discount_percent"):
        number = _decimal(values, name)
        if number is not None:
            setattr(line, name, number)
    if values.get("position") not in (None, ""):
        line.position = int(values["position"])
    if line.vat_rate not in VAT_RATES:
        raise ValidationError({"vat_rate": [_("Choose one of the Polish VAT rates: %(rates)s.")
                                            % {"rates": ", ".join(VAT_RATES)}]})
    if not line.name:
        raise ValidationError({"name": [_("Give the line a name or choose a product.")]})
    if line.unit_price is None:
        raise ValidationError({"unit_price": [_("Enter the unit net price.")]})
    exclude = [field.name for field in line._meta.fields if field.is_relation]
    try:
        line.full_clean(exclude=exclude, validate_unique=False)
    except ValidationError as error:
        raise ValidationError(error.message_dict) from None


def _locked_deal(actor, deal):
    from crm.deals.models import Deal

    locked = Deal.objects.select_for_update().get(pk=deal.pk)
    if locked.deleted_at is not None:
        raise ValidationError(_("This record is in the recycle bin; restore it before changing it."))
    permissions.require(actor, "deal", "edit", owner=locked.owner)
    return locked


def _summary(lines) -> str:
    return "; ".join(f"{line.name} × {line.quantity.normalize():f}" for line in lines)


def deal_totals(deal) -> object:
    lines = list(deal.product_lines.all())
    return document_totals([(line.vat_rate, line.amounts()) for line in lines])


def _after_change(actor, deal, before: str, recalculate: bool) -> None:
    lines = list(DealProduct.objects.filter(deal=deal).order_by("position", "id"))
    after = _summary(lines)
    if before != after:
        _history(actor, "deal", deal.pk, "products", _("products"), before, after)
    if recalculate:
        from crm.core import services as records

        net = document_totals([(line.vat_rate, line.amounts()) for line in lines]).net
        if net != deal.value:
            records.update_record(actor=actor, record=deal, values={"value": net})


@transaction.atomic
def add_deal_product(*, actor, deal, values: dict, recalculate: bool = False) -> DealProduct:
    """Add a line (a catalogue product or free text); ``recalculate`` sets the deal's value to the net sum."""
    deal = _locked_deal(actor, deal)
    before = _summary(DealProduct.objects.filter(deal=deal).order_by("position", "id"))
    line = DealProduct(deal=deal, unit_price=None)
    if "position" not in values:
        line.position = DealProduct.objects.filter(deal=deal).count()
    clean_line_values(values, line)
    line.save()
    _after_change(actor, deal, before, recalculate)
    return line


@transaction.atomic
def update_deal_product(*, actor, line: DealProduct, values: dict, recalculate: bool = False) -> DealProduct:
    deal = _locked_deal(actor, line.deal)
    before = _summary(DealProduct.objects.filter(deal=deal).order_by("position", "id"))
    line = DealProduct.objects.get(pk=line.pk, deal=deal)
    clean_line_values(values, line)
    line.save()
    _after_change(actor, deal, before, recalculate)
    return line


@transaction.atomic
def remove_deal_product(*, actor, line: DealProduct, recalculate: bool = False) -> None:
    deal = _locked_deal(actor, line.deal)
    before = _summary(DealProduct.objects.filter(deal=deal).order_by("position", "id"))
    DealProduct.objects.filter(pk=line.pk, deal=deal).delete()
    _after_change(actor, deal, before, recalculate)
