"""Page forms of production orders. They only parse input; the services decide."""

from __future__ import annotations

from django import forms

from config.pages import PageForm
from inventory.models import Item
from planning.models import WorkCenter
from production.enums import OrderStatus, OrderType

SORTS = {
    "number": "number",
    "-number": "-number",
    "due": "due_date",
    "-due": "-due_date",
    "priority": "priority",
    "-priority": "-priority",
    "status": "status",
    "item": "item__sku",
}


class DateInput(forms.DateInput):
    input_type = "date"


class OrderFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any"), *OrderStatus.choices], required=False)
    order_type = forms.ChoiceField(label="Type", choices=[("", "Any"), *OrderType.choices], required=False)
    item = forms.CharField(label="Item SKU", required=False)
    work_center = forms.ModelChoiceField(queryset=WorkCenter.objects.order_by("code"), required=False)
    due_from = forms.DateField(label="Due from", required=False, widget=DateInput)
    due_to = forms.DateField(label="Due to", required=False, widget=DateInput)
    sort = forms.ChoiceField(
        choices=[
            ("due", "Due date ↑"),
            ("-due", "Due date ↓"),
            ("-number", "Newest"),
            ("priority", "Priority"),
            ("status", "Status"),
            ("item", "Item"),
        ],
        required=False,
    )


class KpiFilterForm(PageForm):
    """The KPI page's filters; ``kpis_get`` checks the period."""

    date_from = forms.DateField(label="From", required=False, widget=DateInput)
    date_to = forms.DateField(label="To", required=False, widget=DateInput)
    item = forms.CharField(label="Item SKU", required=False)
    work_center = forms.ModelChoiceField(
        queryset=WorkCenter.objects.order_by("code"), required=False, empty_label="All"
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Each input names the message next to it, which htmx fills in place.
        for name, field in self.fields.items():
            field.widget.attrs["aria-describedby"] = f"id_{name}_error"

    def clean_item(self) -> Item | None:
        sku = self.cleaned_data["item"].strip()
        if not sku:
            return None
        item = Item.objects.filter(sku__iexact=sku).first()
        if item is None:
            raise forms.ValidationError(f"No item has the SKU {sku}.")
        return item


class OrderCreateForm(PageForm):
    item = forms.ModelChoiceField(
        queryset=Item.objects.filter(is_active=True).order_by("sku"),
        help_text="Only made items get production orders.",
    )
    quantity = forms.DecimalField(
        max_digits=18, decimal_places=4, help_text="For a campaign: the target for the whole campaign period."
    )
    due_date = forms.DateField(
        widget=DateInput, required=False, help_text="Not for a campaign: it is due when the campaign ends."
    )
    order_type = forms.ChoiceField(
        label="Type", choices=[("", "From the item's strategy"), *OrderType.choices], required=False
    )
    priority = forms.IntegerField(initial=5, help_text="1 = most urgent, 9 = least")
    is_campaign = forms.BooleanField(
        label="Campaign order",
        required=False,
        help_text="Runs for a period with no fixed final quantity; closed when the campaign ends.",
    )
    campaign_start = forms.DateField(widget=DateInput, required=False, help_text="Campaigns only.")
    campaign_end = forms.DateField(widget=DateInput, required=False, help_text="Campaigns only.")


class OrderEditForm(PageForm):
    version = forms.IntegerField(widget=forms.HiddenInput)
    quantity = forms.DecimalField(max_digits=18, decimal_places=4, required=False)
    due_date = forms.DateField(widget=DateInput, required=False, help_text="A campaign is due at its end.")
    priority = forms.IntegerField(required=False)
    is_campaign = forms.BooleanField(label="Campaign order", required=False)
    campaign_start = forms.DateField(widget=DateInput, required=False)
    campaign_end = forms.DateField(widget=DateInput, required=False)


class ReleaseForm(PageForm):
    # The version the page showed; absent means "whatever is current" (no check).
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    force = forms.BooleanField(required=False, label="Release despite shortages")
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class RescheduleForm(PageForm):
    version = forms.IntegerField(widget=forms.HiddenInput)
    due_date = forms.DateField(label="New due date", widget=DateInput)


class IssueForm(PageForm):
    # The version the page showed; absent means "whatever is current" (no check).
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    component = forms.IntegerField(widget=forms.HiddenInput)
    quantity = forms.DecimalField(max_digits=18, decimal_places=4)


class SplitForm(PageForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    quantity = forms.DecimalField(
        label="Quantity to split off", max_digits=18, decimal_places=4, help_text="Moves into a new order."
    )
    due_date = forms.DateField(
        label="Due date of the new order", widget=DateInput, required=False, help_text="Empty: as this order."
    )
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
