"""Page forms of sales orders. They only parse input; the services decide."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from config.pages import PageForm
from sales.enums import SalesOrderStatus
from sales.models import Customer


class DateInput(forms.DateInput):
    input_type = "date"


class SalesOrderFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, help_text="Number or customer reference")
    status = forms.ChoiceField(choices=[("", "Any"), *SalesOrderStatus.choices], required=False)
    customer = forms.ModelChoiceField(queryset=Customer.objects.order_by("code"), required=False)


class SalesOrderHeaderForm(PageForm):
    customer = forms.ModelChoiceField(queryset=Customer.objects.filter(is_active=True).order_by("code"))
    customer_reference = forms.CharField(label="Customer reference", max_length=64, required=False)


class SalesOrderLineForm(PageForm):
    """One line. The item choices are computed once per page and passed in, so twenty rows
    do not cost twenty queries."""

    item = forms.TypedChoiceField(coerce=int, empty_value=None)
    quantity = forms.DecimalField(max_digits=18, decimal_places=4)
    requested_date = forms.DateField(label="Requested date", widget=DateInput)
    unit_price = forms.DecimalField(label="Unit price", max_digits=18, decimal_places=4, required=False)

    def __init__(self, *args: Any, item_choices: list[tuple[Any, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = [("", "—"), *item_choices]
        self.fields["requested_date"].initial = timezone.localdate() + dt.timedelta(days=14)

    def has_changed(self) -> bool:
        # A row counts once an item, quantity or price is typed: the pre-filled requested
        # date alone (or a cleared one) leaves an unused row unused.
        if not self.is_bound:
            return super().has_changed()
        return any(str(self.data.get(self.add_prefix(n), "")).strip() for n in ("item", "quantity", "unit_price"))


class BaseLineFormSet(forms.BaseFormSet):
    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        # Every row may stay empty (an unused row is skipped), also the ones re-rendered
        # after "Add line".
        return {**super().get_form_kwargs(index), "empty_permitted": True}


LineFormSet = forms.formset_factory(SalesOrderLineForm, formset=BaseLineFormSet, extra=2, max_num=100, absolute_max=100)
