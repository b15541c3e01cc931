"""账号与角色管理: the security administrator's pages (docs/SECURITY-BAR.md §8, 三权分立).

Every view asks ``services_admin.may_manage_accounts`` first (403, nothing read or written
otherwise) and the services ask it again. Passwords made here are shown once, in the answer to
the request that made them (``Cache-Control: no-store``), never stored in clear.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from minqing.accounts.forms import RoleGrantForm, UserCreateForm, UserSearchForm
from minqing.accounts.middleware import AuthedRequest
from minqing.accounts.models import RoleAssignment, TotpDevice, User
from minqing.accounts.services import admin as services_admin
from minqing.accounts.services import otp as services_otp
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.lib.forms import add_errors
from minqing.lib.views import forbidden

PAGE_SIZE = 50


def security_admin_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not services_admin.may_manage_accounts(request.user):
            return forbidden(
                request, _("Only the security administrator manages accounts and roles.")
            )
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as exc:
            return forbidden(request, exc)

    return wrapper


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


@security_admin_only
def user_list(request: HttpRequest) -> HttpResponse:
    """All accounts, searchable by username or name, role and state."""
    form = UserSearchForm(request.GET or None)
    users = User.objects.order_by("username").prefetch_related(
        Prefetch("roles", queryset=RoleAssignment.objects.select_related("node", "department"))
    )
    if form.is_valid():
        if q := form.cleaned_data["q"].strip():
            users = users.filter(Q(username__icontains=q) | Q(full_name__icontains=q))
        if role := form.cleaned_data["role"]:
            users = users.filter(roles__role=role).distinct()
        if state := form.cleaned_data["state"]:
            users = users.filter(is_active=state == "active")
    page = Paginator(users, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/users.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )


@security_admin_only
@require_http_methods(["GET", "POST"])
def user_create(request: AuthedRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user, password = services_admin.user_create(
                by=request.user,
                username=form.cleaned_data["username"],
                full_name=form.cleaned_data["full_name"],
                phone=form.cleaned_data["phone"],
                context=AuditContext.of(request),
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            return _no_store(
                render(
                    request,
                    "accounts/user_password.html",
                    {"account": user, "password": password, "created": True},
                )
            )
    return render(
        request, "accounts/user_create.html", {"form": form}, status=400 if form.errors else 200
    )


def _detail(request: HttpRequest, account: User, *, grant_form: Any = None, status: int = 200):
    return render(
        request,
        "accounts/user_detail.html",
        {
            "account": account,
            "assignments": account.roles.select_related("node", "department").order_by("role"),
            "grant_form": grant_form or RoleGrantForm(),
            "has_otp": TotpDevice.objects.filter(user=account, confirmed_at__isnull=False).exists(),
            "otp_required": services_otp.required_by_role(account),
            "is_self": account.pk == request.user.pk,
        },
        status=status,
    )


@security_admin_only
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, get_object_or_404(User, pk=pk))


def _post_action(
    action: Callable[..., Any], done: Any
) -> Callable[[HttpRequest, int], HttpResponse]:
    @security_admin_only
    @require_POST
    def view(request: AuthedRequest, pk: int) -> HttpResponse:
        account = get_object_or_404(User, pk=pk)
        try:
            action(by=request.user, user=account, context=AuditContext.of(request))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, str(done))
        return redirect("accounts:user_detail", pk=account.pk)

    return view


user_disable = _post_action(
    services_admin.user_disable,
    gettext_lazy("Account disabled; its sessions and API tokens ended."),
)
user_enable = _post_action(services_admin.user_enable, gettext_lazy("Account enabled."))
user_otp_reset = _post_action(
    services_admin.user_otp_reset,
    gettext_lazy("Two-step verification reset: the person sets it up again at the next login."),
)


@security_admin_only
@require_POST
def user_password_reset(request: AuthedRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(User, pk=pk)
    password = services_admin.user_password_reset(
        by=request.user, user=account, context=AuditContext.of(request)
    )
    return _no_store(
        render(
            request,
            "accounts/user_password.html",
            {"account": account, "password": password, "created": False},
        )
    )


@security_admin_only
@require_POST
def role_grant(request: AuthedRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(User, pk=pk)
    form = RoleGrantForm(request.POST)
    if form.is_valid():
        try:
            services_admin.role_grant(
                by=request.user,
                user=account,
                role=form.cleaned_data["role"],
                node=form.cleaned_data["node"],
                department=form.cleaned_data["department"],
                context=AuditContext.of(request),
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, _("Role granted."))
            return redirect("accounts:user_detail", pk=account.pk)
    return _detail(request, account, grant_form=form, status=400)


@security_admin_only
@require_POST
def role_revoke(request: AuthedRequest, pk: int, assignment_pk: int) -> HttpResponse:
    assignment = RoleAssignment.objects.filter(pk=assignment_pk, user_id=pk).first()
    if assignment is None:
        raise Http404
    services_admin.role_revoke(
        by=request.user, assignment=assignment, context=AuditContext.of(request)
    )
    messages.success(request, _("Role revoked."))
    return redirect("accounts:user_detail", pk=pk)
