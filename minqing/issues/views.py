"""Issue pages: my list, the dispatch board, registration with similar issues, attaching a
household, the report (通报, satisfaction), topics and settings. The issue page itself and its
actions are in ``views_issue.py``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from minqing.accounts.models import Role
from minqing.accounts.scope import scope_for
from minqing.households.models import Household
from minqing.issues import categorise, forms, permissions, selectors, services, similarity
from minqing.issues.models import (
    OPEN_STATES,
    Category,
    Colour,
    DeadlineRule,
    Issue,
    Status,
)
from minqing.issues.photos import photo_add
from minqing.issues.services import settings as services_settings
from minqing.issues.topics import alike_groups
from minqing.lib.errors import PermissionDenied
from minqing.lib.views import forbidden
from minqing.org.models import Department, Node
from minqing.org.selectors import breadcrumbs
from minqing.org.views import scoped_node

PAGE = 30
BOARD_STATES = {key: states for key, _label, states in selectors.BOARD_GROUPS}
BOARD_LABELS = {key: label for key, label, _states in selectors.BOARD_GROUPS}


def _issue(request: HttpRequest, pk: int) -> Issue:
    try:
        return selectors.issue_for_page(request.user, pk)
    except Issue.DoesNotExist:
        raise Http404 from None


# --------------------------------------------------------------------------- lists


def _filters(request: HttpRequest) -> tuple[selectors.IssueFilters, dict[str, Any]]:
    """The list and board filters from the URL, and what their form shows. A village or place
    outside the reader's scope answers 404; a malformed value is ignored."""
    villages = selectors.filter_villages(request.user)
    categories = list(Category.objects.filter(active=True))
    found = selectors.IssueFilters()
    get = request.GET
    if get.get("village", "").isdigit():
        by_pk = {v.pk: v for v in villages}
        found.village = by_pk.get(int(get["village"]))
        if found.village is None:
            raise Http404
    if get.get("node", "").isdigit():
        found.node = scoped_node(request, int(get["node"]))
    if get.get("colour") in Colour.values:
        found.colour = get["colour"]
    if get.get("category", "").isdigit():
        found.category = next((c for c in categories if c.pk == int(get["category"])), None)
    if get.get("light") in selectors.LIGHTS:
        found.light = get["light"]
    found.overdue = get.get("overdue") == "1" or found.light == "red"
    if found.overdue:
        found.light = ""
    form = {
        "filters": found,
        "villages": villages if len(villages) > 1 else [],
        "categories": categories,
        "colours": Colour.choices,
        "lights": [
            ("green", _("On time")),
            ("yellow", _("Deadline approaching")),
        ],
    }
    return found, form


@require_GET
def issue_list(request: HttpRequest) -> HttpResponse:
    """问题清单 — the issues in my places or my department, open first, filterable."""
    qs = Issue.objects.visible_to(request.user).select_related(
        "village", "category", "owner_node", "owner_department"
    )
    state = request.GET.get("state", "open")
    if state == "open":
        qs = qs.filter(status__in=OPEN_STATES)
    elif state == "resolved":
        qs = qs.filter(status__in=[Status.RESOLVED, Status.REVISITED])
    elif state == "closed":
        qs = qs.filter(status=Status.CLOSED)
    elif state in BOARD_STATES:
        qs = qs.filter(status__in=BOARD_STATES[state])
    now = timezone.now()
    filters, filter_form = _filters(request)
    qs = filters.apply(qs, now)
    if request.GET.get("mine") == "1":
        qs = qs.filter(responsible=request.user)
    ordering = (
        ("due_at", "id") if state == "open" or state in BOARD_STATES else ("-updated_at", "-id")
    )
    page = Paginator(qs.order_by(*ordering), PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "issues/list.html",
        {
            "page": page,
            "state": state,
            "board_label": BOARD_LABELS.get(state, ""),
            "now": now,
            "query": request.GET.copy(),
            "mine": request.GET.get("mine") == "1",
            "can_dispatch": _is_dispatcher(request.user),
            "can_edit_settings": services_settings.can_edit_settings(request.user),
            **filter_form,
        },
    )


def _is_dispatcher(user: Any) -> bool:
    return scope_for(user).has_any(frozenset({Role.TOWN_STAFF, Role.COMMAND_CENTRE}))


@require_GET
def board(request: HttpRequest) -> HttpResponse:
    """派单台 — for a town or the county: what waits for whom, most urgent first, filterable
    by village, colour, category and light (the column counts follow the filters)."""
    filters, filter_form = _filters(request)
    now = timezone.now()
    columns = selectors.board(request.user, filters=filters, now=now)
    return render(
        request,
        "issues/board.html",
        {"columns": columns, "node": filters.node, "now": now, **filter_form},
    )


@require_GET
def late_units(request: HttpRequest) -> HttpResponse:
    """通报 — units that let deadlines pass, with how many times, in the reader's scope."""
    days = int(request.GET.get("days", "30")) if request.GET.get("days", "30").isdigit() else 30
    return render(
        request,
        "issues/late.html",
        {
            "rows": selectors.late_units(request.user, days=days),
            "days": days,
            "satisfaction": selectors.satisfaction(request.user, days=90),
            "sample": selectors.sample_for_revisit(request.user),
            "now": timezone.now(),
        },
    )


# --------------------------------------------------------------------------- registration


def _register_place(request: HttpRequest) -> tuple[Node, Household | None]:
    household = None
    if request.GET.get("household"):
        household = get_object_or_404(
            Household.objects.visible_to(request.user).select_related("node", "village"),
            pk=_int(request.GET["household"]),
        )
        return household.node, household
    if request.GET.get("node"):
        return scoped_node(request, _int(request.GET["node"])), None
    raise Http404


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404 from None


def register(request: HttpRequest) -> HttpResponse:
    """登记 — from a household page (?household=) or a place (?node=)."""
    node, household = _register_place(request)
    if not permissions.can_register_at(request.user, node.path):
        return forbidden(request, _("You can register issues only in the places you look after."))
    form = _register_form(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                issue = services.issue_register(
                    by=request.user,
                    node=node,
                    household=household,
                    request=request,
                    **{k: data[k] for k in _REGISTER_FIELDS},
                )
                if data.get("photo"):
                    photo_add(by=request.user, issue=issue, data=data["photo"], request=request)
        except ValidationError as exc:
            _file_errors(form, exc)
            status = 400
        except PermissionDenied as exc:
            return forbidden(request, exc)
        else:
            messages.success(request, _("Issue registered."))
            return redirect("issues:detail", pk=issue.pk)
    elif request.method == "POST":
        status = 400
    similar = _similar_for_form(request, node, form) if request.method == "POST" else []
    return render(
        request,
        "issues/register.html",
        {
            "form": form,
            "node": node,
            "household": household,
            "crumbs": breadcrumbs(node, request.user),
            "similar": similar,
            "guessed": _guessed_category(request.POST) if request.method == "POST" else None,
        },
        status=status,
    )


def _register_form(*args: Any) -> forms.RegisterForm:
    """The registration form with no category chosen until the reporter (or the guess) does."""
    form = forms.RegisterForm(*args)
    form.fields["category"].empty_label = _("Choose a category")
    return form


def _guessed_category(data: Any) -> Category | None:
    """The category the page last guessed (kept in a hidden field to tell it from a choice)."""
    value = str(data.get("category_guessed", ""))
    return Category.objects.filter(pk=int(value), active=True).first() if value.isdigit() else None


_REGISTER_FIELDS = (
    "colour",
    "category",
    "description",
    "resolution",
    "complexity",
    "source",
    "title",
    "reporter_name",
    "reporter_phone",
    "reporter_words",
)


def _similar_for_form(request: HttpRequest, node: Node, form: Any) -> list[Any]:
    text = str(form.data.get("description", "")).strip()
    if len(text) < 2:
        return []
    village, town = services.place_of(node)
    category = _int(form.data.get("category")) if form.data.get("category") else None
    found = similarity.similar_issues(
        text=text,
        category_id=category,
        village_id=village.pk,
        town_id=(town or village).pk,
    )
    by_id = Issue.objects.visible_to(request.user).in_bulk([s.issue_id for s in found])
    return [(s, by_id[s.issue_id]) for s in found if s.issue_id in by_id]


@require_GET
def similar_check(request: HttpRequest) -> HttpResponse:
    """htmx: similar open issues while the reporter types (same village first, then nearby)."""
    node, household = _register_place(request)
    if not permissions.can_register_at(request.user, node.path):
        raise Http404
    form = _register_form(request.GET)
    return render(
        request,
        "issues/_similar.html",
        {
            "similar": _similar_for_form(request, node, form),
            "household": household,
            **_category_guess(request, node, form),
        },
    )


def _category_guess(request: HttpRequest, node: Node, form: Any) -> dict[str, Any]:
    """While the reporter types: guess the category from the text, unless they chose one.

    The page keeps the last guess in ``category_guessed``: a category equal to it (or none) was
    not chosen by the reporter, so a new guess may replace it. The answer carries the select
    again (an out-of-band swap) only when the guess applies.
    """
    chosen = str(request.GET.get("category", ""))
    guessed = str(request.GET.get("category_guessed", ""))
    if chosen and chosen != guessed:
        return {}
    text = str(request.GET.get("description", "")).strip()
    village, town = services.place_of(node)
    guess = categorise.guess_category(text, town_id=(town or village).pk, village_id=village.pk)
    if str(guess or "") == chosen:
        return {}
    data = request.GET.copy()
    data["category"] = str(guess or "")
    return {
        "guess_form": _register_form(data),
        "guessed": Category.objects.filter(pk=guess).first() if guess else None,
        "swap_category": True,
    }


def _file_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def attach(request: HttpRequest, pk: int) -> HttpResponse:
    """反映同一问题 — the household (?household=) joins an existing issue as a reporter."""
    issue = _issue(request, pk)
    household = None
    if request.GET.get("household"):
        household = get_object_or_404(
            Household.objects.visible_to(request.user), pk=_int(request.GET["household"])
        )
    form = forms.AttachForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.issue_add_reporter(
                by=request.user,
                issue=issue,
                household=household,
                request=request,
                **form.cleaned_data,
            )
        except ValidationError as exc:
            _file_errors(form, exc)
            status = 409 if isinstance(exc, services.IllegalTransition) else 400
        except PermissionDenied as exc:
            return forbidden(request, exc)
        else:
            messages.success(request, _("Added as a reporter of this issue."))
            return redirect("issues:detail", pk=issue.pk)
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "issues/attach.html",
        {"issue": issue, "household": household, "form": form},
        status=status,
    )


# --------------------------------------------------------------------------- analysis


@require_GET
def topics(request: HttpRequest) -> HttpResponse:
    """一类事 — alike issues across places, proposed as groups, and the topics made of them."""
    scope = scope_for(request.user)
    if not scope.paths_for(permissions.TOPIC_ROLES):
        return forbidden(request, _("Only town or county staff group issues into topics."))
    county = selectors.county_for(request.user)
    groups: list[list[Issue]] = []
    if county is not None:
        category = request.GET.get("category")
        raw = alike_groups(
            county_path=county.path,
            category_id=_int(category) if category else None,
        )
        # Only issues of the places where the user groups them (not every place they see).
        visible = (
            Issue.objects.visible_to(request.user)
            .filter(scope.node_q("node_path", roles=permissions.TOPIC_ROLES))
            .select_related("village", "category")
        )
        by_id = visible.in_bulk([i for g in raw for i in g])
        groups = [[by_id[i] for i in g if i in by_id] for g in raw]
        groups = [g for g in groups if len(g) >= 2]
    return render(
        request,
        "issues/topics.html",
        {
            "groups": groups[:30],
            "categories": Category.objects.filter(active=True),
            "topics": selectors.topics_visible(request.user),
        },
    )


@require_POST
def topic_create(request: HttpRequest) -> HttpResponse:
    ids = [int(i) for i in request.POST.getlist("issue") if str(i).isdigit()]
    issues = list(Issue.objects.visible_to(request.user).filter(pk__in=ids))
    try:
        services.topic_create(
            by=request.user,
            title=request.POST.get("title", ""),
            issues=issues,
            note=request.POST.get("note", ""),
            request=request,
        )
    except ValidationError as exc:
        for msg in exc.messages:
            messages.error(request, msg)
    except PermissionDenied as exc:
        return forbidden(request, exc)
    else:
        messages.success(request, _("Topic created."))
    return redirect("issues:topics")


# --------------------------------------------------------------------------- settings


def issue_settings(request: HttpRequest) -> HttpResponse:
    """Categories (and their default departments) and deadlines, editable by the command centre."""
    if not services_settings.can_edit_settings(request.user):
        return forbidden(request, _("Only the command centre edits the issue settings."))
    status = 200
    category_form = forms.CategoryForm(prefix="new")
    if request.method == "POST":
        try:
            if request.POST.get("what") == "rule":
                rule = get_object_or_404(DeadlineRule, pk=_int(request.POST.get("rule")))
                form = forms.RuleForm(request.POST)
                if not form.is_valid():
                    raise ValidationError(form.errors.as_data().popitem()[1])
                services_settings.deadline_rule_save(
                    by=request.user, rule=rule, request=request, **form.cleaned_data
                )
            else:
                pk = request.POST.get("category")
                category = get_object_or_404(Category, pk=_int(pk)) if pk else None
                form_class = forms.CategoryForm if category is None else forms.CategoryEditForm
                category_form = form_class(
                    request.POST, prefix="new" if category is None else f"c{pk}", instance=category
                )
                if not category_form.is_valid():
                    raise ValidationError(list(category_form.errors.values())[0])
                services_settings.category_save(
                    by=request.user,
                    category=category,
                    data=category_form.cleaned_data,
                    request=request,
                )
        except ValidationError as exc:
            for msg in exc.messages:
                messages.error(request, msg)
            status = 400
        except PermissionDenied as exc:
            return forbidden(request, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("issues:settings")
    departments = list(Department.objects.order_by("kind", "name"))
    names = _department_names(departments)
    new_category = (
        category_form if category_form.instance.pk is None else forms.CategoryForm(prefix="new")
    )
    categories = []
    for c in Category.objects.all():
        form = forms.CategoryForm(instance=c, prefix=f"c{c.pk}")
        categories.append((c, _department_select(form, departments), names.get(c.department_code)))
    return render(
        request,
        "issues/settings.html",
        {
            "categories": categories,
            "new_category": _department_select(new_category, departments),
            "rules": DeadlineRule.objects.order_by("colour", "complexity"),
        },
        status=status,
    )


def _department_names(departments: list[Department]) -> dict[str, str]:
    """Department code → the names of the county departments with that code (one per county)."""
    names: dict[str, list[str]] = {}
    for d in departments:
        if d.code and d.name not in names.setdefault(d.code, []):
            names[d.code].append(d.name)
    return {code: "、".join(n) for code, n in names.items()}


def _department_select(form: Any, departments: list[Department]) -> Any:
    """The category's department as a choice among the departments by name, not a typed code;
    a code no department has any more stays selectable, saying so."""
    from django import forms as django_forms

    names = _department_names(departments)
    current = form["department_code"].value() or ""
    choices = [("", _("No default department")), *sorted(names.items(), key=lambda kv: kv[1])]
    if current and current not in names:
        choices.append((current, _("%(code)s (no department has this code)") % {"code": current}))
    field = form.fields["department_code"]
    field.widget = django_forms.Select(choices=choices)
    field.label = _("Default department")
    field.help_text = ""
    return form
