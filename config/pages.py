"""Helpers shared by the server-rendered pages of every app.

Conventions (follow them in new pages):
- a page view is a plain function in ``<app>/views.py`` wrapped in ``@role_required(...)``;
  reads go through selectors, writes through ``run_service`` so a domain error becomes a
  message next to the form (or a flash message) instead of a 500;
- lists are paginated with ``paginate`` and render ``partials/pagination.html``;
- filters are a plain ``forms.Form`` read from GET and rendered with ``partials/filters.html``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse

from config.exceptions import DomainError
from config.roles import ALL_ROLES, PLANNING_ROLES, roles_refusal, user_roles

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100

View = TypeVar("View", bound=Callable[..., HttpResponse])


def role_required(roles: Iterable[str] = ALL_ROLES) -> Callable[[View], View]:
    """Anonymous users go to the login page; signed-in users without one of ``roles`` get
    403. Pages that only show data take the default (every role except none); pages that
    change anything pass ``PLANNING_ROLES``."""
    allowed = frozenset(roles)

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            roles = user_roles(request.user)
            if not roles & allowed:
                raise PermissionDenied(roles_refusal(allowed, roles, what="This page"))
            return view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


planner_required = role_required(PLANNING_ROLES)
# The shop floor has its own screens under /floor/: office pages are for everyone else.
OFFICE_ROLES = ALL_ROLES - {"operator"}
office_required = role_required(OFFICE_ROLES)


def can_plan(request: HttpRequest) -> bool:
    return bool(user_roles(request.user) & PLANNING_ROLES)


def run_service(
    request: HttpRequest,
    service: Callable[..., Any],
    *,
    form: forms.Form | None = None,
    success: str | None = None,
    **kwargs: Any,
) -> tuple[bool, Any]:
    """Call a service; on a ``DomainError`` put its message next to the form fields it names
    (or as a form-wide error) when a form is given, else as an error flash message.
    Returns ``(ok, result_or_error)``. Services are atomic, so nothing is half-written."""
    try:
        result = service(user=request.user, **kwargs)
    except DomainError as exc:
        if form is not None:
            attach_domain_error(form, exc)
        else:
            messages.error(request, domain_error_text(exc))
        return False, exc
    if success:
        messages.success(request, success)
    return True, result


def run_reason_command(request: HttpRequest, service: Callable[..., Any], *, success: str, **kwargs: Any) -> bool:
    """A command whose only input is the "why" typed in its confirmation dialog (close,
    cancel): the reason goes to the service, which decides whether it is required."""
    ok, _ = run_service(request, service, reason=request.POST.get("reason", "").strip(), success=success, **kwargs)
    return ok


def domain_error_text(exc: DomainError) -> str:
    details = [f"{m}" for values in exc.fields.values() for m in values if isinstance(m, str) and len(m) > 12]
    return " ".join([exc.message, *details])


def attach_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Field errors on the fields the service named; the message itself on the form."""
    placed = False
    for name, values in exc.fields.items():
        field = name.split(".")[0]
        if field in form.fields:
            form.add_error(field, " ".join(str(v) for v in values))
            placed = True
    if not placed or exc.status_code != 400:
        form.add_error(None, domain_error_text(exc))


def paginate(request: HttpRequest, rows: Any, *, per_page: int = PAGE_SIZE) -> Page:
    try:
        size = min(max(int(request.GET.get("page_size", per_page)), 1), MAX_PAGE_SIZE)
    except ValueError:
        size = per_page
    return Paginator(rows, size).get_page(request.GET.get("page"))


def query_without(request: HttpRequest, *names: str) -> str:
    """The current query string minus ``names``: pagination and sort links keep the filters."""
    pairs = [(k, v) for k, values in request.GET.lists() if k not in names for v in values]
    return urlencode(pairs)


class PageForm(forms.Form):
    """A form whose inputs point at their error messages (``aria-describedby``), so a screen
    reader reads the error with the field; ``partials/field.html`` renders the ids."""

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                ids = {*widget.attrs.get("aria-describedby", "").split(), f"{self[name].auto_id}_error"}
                widget.attrs["aria-describedby"] = " ".join(sorted(i for i in ids if i))
                widget.attrs["aria-invalid"] = "true"
