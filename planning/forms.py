"""Page forms of the planning run pages. They only parse input; the services decide."""

from __future__ import annotations

from django import forms

from config.pages import PageForm
from inventory.enums import ItemType
from planning.enums import ExceptionKind, PlannedOrderStatus, RequisitionStatus, RunMode


class DateInput(forms.DateInput):
    input_type = "date"


class RunStartForm(PageForm):
    mode = forms.ChoiceField(
        choices=RunMode.choices,
        initial=RunMode.REGENERATIVE,
        widget=forms.RadioSelect,
        help_text="Net change re-plans only items whose demand, supply or stock changed since the last run.",
    )


class _DueRangeFilter(forms.Form):
    item = forms.CharField(label="Item SKU", required=False)
    due_from = forms.DateField(label="Due from", required=False, widget=DateInput)
    due_to = forms.DateField(label="Due to", required=False, widget=DateInput)


class PlannedOrderFilterForm(_DueRangeFilter):
    status = forms.ChoiceField(
        choices=[("", "Any"), *PlannedOrderStatus.choices], required=False, initial=PlannedOrderStatus.PLANNED
    )
    item_type = forms.ChoiceField(label="Item type", choices=[("", "Any"), *ItemType.choices], required=False)


class RequisitionFilterForm(_DueRangeFilter):
    status = forms.ChoiceField(choices=[("", "Any"), *RequisitionStatus.choices], required=False)


class ExceptionFilterForm(forms.Form):
    item = forms.CharField(label="Item SKU", required=False)
    kind = forms.ChoiceField(choices=[("", "Any"), *ExceptionKind.choices], required=False)
    date_from = forms.DateField(label="Date from", required=False, widget=DateInput)
    date_to = forms.DateField(label="Date to", required=False, widget=DateInput)
