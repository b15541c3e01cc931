"""Quarterly-menu pages: authoring — the departments' checklists (editor, XLSForm upload and
download), the quarter's menu (create, merge the submitted checklists), the version editor
(greeting, themes, questions and their issue rules; approve, publish, next version) and the
version's downloads (XLSForm, the paper form's PDF).

Every state change goes through ``minqing.menus.services.authoring``; the pages read
``permissions.allowed`` only to decide which buttons to show. A refused save changes nothing
and shows the form again as typed, each message next to the field it names."""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from minqing.accounts.middleware import AuthedRequest
from minqing.accounts.models import Role
from minqing.issues.models import Category, Colour, Complexity
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied, StaleEdit
from minqing.lib.views import forbidden
from minqing.menus.models import (
    Campaign,
    Checklist,
    ChecklistState,
    Menu,
    MenuQuestion,
    MenuVersion,
    VersionState,
)
from minqing.menus.permissions import DENIED, MenuAction, allowed, departments_for
from minqing.menus.selectors import authoring as select
from minqing.menus.services import authoring
from minqing.menus.spec import (
    APPLIES_LABELS,
    FIXED_CHOICES,
    QTYPE_LABELS,
    Applies,
    Choice,
    QType,
    QuestionSpec,
)
from minqing.menus.views._refuse import refused
from minqing.org.models import Department, Node, subtree_q

#: An uploaded XLSForm larger than this is refused before it is read.
MAX_UPLOAD = 5 * 1024 * 1024
UPLOAD_SUFFIXES = (".xlsx", ".xls", ".csv", ".md")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: The typed fields of one question, as the editor's inputs are named (after the prefix).
TEXT_FIELDS = (
    "name",
    "qtype",
    "label_zh",
    "label_en",
    "hint_zh",
    "hint_en",
    "theme",
    "applies",
    "choices",
    "relevant",
    "constraint",
    "constraint_message_zh",
    "constraint_message_en",
    "visitor_note",
)
#: check_form's field names → the editor's inputs.
PROBLEM_FIELDS = {"type": "qtype", "label": "label_zh"}


def _attachment(body: bytes, content_type: str, filename: str) -> HttpResponse:
    """A download with a Chinese file name (RFC 6266: an ASCII fallback and the UTF-8 name)."""
    response = HttpResponse(body, content_type=content_type)
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("_") or "download"
    response["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    )
    return response


def _safe_name(text: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "_", text).strip("_")


# --------------------------------------------------------------------------- typed questions


def choices_text(choices: list[Any]) -> str:
    """Choices one a line as the editor shows them: ``name | 中文 | English``."""
    lines = []
    for c in choices:
        name, zh, en = (list(c) + ["", "", ""])[:3]
        lines.append(" | ".join([name, zh, en] if en else [name, zh]))
    return "\n".join(lines)


def parse_choices(text: str) -> list[Choice]:
    """``name | 中文 | English`` a line; a line without ``|`` is a label, named by its number."""
    out = []
    for n, line in enumerate((x.strip() for x in text.splitlines() if x.strip()), start=1):
        if "|" in line:
            parts = [p.strip() for p in line.split("|")] + ["", ""]
            out.append(Choice(parts[0], parts[1], parts[2]))
        else:
            out.append(Choice(str(n), line, ""))
    return out


def row_values(data: Any, prefix: str) -> dict[str, Any]:
    values: dict[str, Any] = {f: str(data.get(f"{prefix}-{f}", "")) for f in TEXT_FIELDS}
    values["required"] = bool(data.get(f"{prefix}-required"))
    return values


def question_values(q: Any) -> dict[str, Any]:
    """A stored question (checklist or menu) as the editor's values."""
    return {
        "name": q.name,
        "qtype": q.qtype,
        "label_zh": q.label_zh,
        "label_en": q.label_en,
        "hint_zh": q.hint_zh,
        "hint_en": q.hint_en,
        "theme": q.theme,
        "applies": q.applies,
        "choices": "" if q.qtype in FIXED_CHOICES else choices_text(q.choices),
        "relevant": q.relevant,
        "constraint": q.constraint,
        "constraint_message_zh": q.constraint_message_zh,
        "constraint_message_en": q.constraint_message_en,
        "visitor_note": q.visitor_note,
        "required": q.required,
    }


def blank_values() -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys(TEXT_FIELDS, "")
    values.update(qtype=QType.YES_NO.value, applies=Applies.BOTH.value, required=False)
    return values


def values_spec(v: dict[str, Any]) -> QuestionSpec:
    """The typed values as a ``QuestionSpec`` (an unknown type or version is left for
    ``check_form`` to name)."""
    qtype = v["qtype"]
    fixed = FIXED_CHOICES.get(qtype) if qtype in QType._value2member_map_ else None
    return QuestionSpec(
        name=v["name"].strip(),
        type=qtype,
        label_zh=v["label_zh"].strip(),
        label_en=v["label_en"].strip(),
        hint_zh=v["hint_zh"].strip(),
        hint_en=v["hint_en"].strip(),
        theme=" ".join(v["theme"].split()),
        required=bool(v["required"]),
        relevant=v["relevant"].strip(),
        constraint=v["constraint"].strip(),
        constraint_message_zh=v["constraint_message_zh"].strip(),
        constraint_message_en=v["constraint_message_en"].strip(),
        applies=v["applies"],
        choices=list(fixed) if fixed else parse_choices(v["choices"]),
        visitor_note=v["visitor_note"].strip(),
    )


def question_errors(exc: ValidationError, positions: list[int]) -> tuple[dict, list[str]]:
    """``questions.N.field`` messages by the row they belong to (``positions[N]`` is the row
    of the form's N-th question) and field; the rest as a list."""
    by_row: dict[int, dict[str, list[str]]] = {}
    rest: list[str] = []
    for key, msgs in exc.message_dict.items():
        parts = key.split(".")
        if parts[0] == "questions" and len(parts) == 3 and parts[1].isdigit():
            n = int(parts[1])
            if n < len(positions):
                fld = PROBLEM_FIELDS.get(parts[2], parts[2]) or "question"
                by_row.setdefault(positions[n], {}).setdefault(fld, []).extend(msgs)
                continue
        if key in ("title", "__all__"):
            continue
        rest.extend(msgs)
    return by_row, rest


def _type_choices() -> list[tuple[str, str]]:
    return [(t.value, str(QTYPE_LABELS[t])) for t in QType]


def _applies_choices() -> list[tuple[str, str]]:
    return [(a.value, str(APPLIES_LABELS[a])) for a in Applies]


def _editor_context() -> dict[str, Any]:
    return {"type_choices": _type_choices(), "applies_choices": _applies_choices()}


# --------------------------------------------------------------------------- the index


WATCH_ROLES = frozenset(
    {Role.COMMAND_CENTRE, Role.TOWN_STAFF, Role.VILLAGE_CADRE, Role.GRID_WORKER}
)


@require_GET
def index(request: AuthedRequest) -> HttpResponse:
    """四季菜单 — the county's menus, the checklists of the user's departments, and the county's
    campaigns with the ways into them the user has (progress at their place, their department's
    results, paper entry)."""
    user = request.user
    county = select.user_county(user)
    departments = departments_for(user, county) if county is not None else []
    composer = county is not None and allowed(user, MenuAction.COMPOSE, county)
    # A place's cadres and grid workers follow its campaigns here (group leaders and other
    # liaisons reach their own tasks from "my households").
    places = [
        a.node
        for a in user.roles.select_related("node")
        if a.node_id is not None and a.role in WATCH_ROLES
    ]
    watched = next((n for n in places if allowed(user, MenuAction.SEE_PROGRESS, n)), None)
    if not departments and not composer and watched is None:
        return forbidden(request, DENIED[MenuAction.COMPOSE])
    assert county is not None
    menus = select.county_menus(county) if composer else []
    found = Campaign.objects.filter(county=county)
    if not composer and not departments and watched is not None:
        # a place's people: the campaigns that reach their place (over it, or inside it)
        parts = [x for x in watched.path.split("/") if x]
        above = ["/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]
        found = found.filter(Q(scope_path__in=above) | subtree_q(watched.path, "scope_path"))
    campaigns = list(
        found.select_related("menu", "version", "scope").order_by("-starts_on", "-pk")[:12]
    )
    return render(
        request,
        "menus/authoring/index.html",
        {
            "county": county,
            "composer": composer,
            "departments": departments,
            "menus": menus,
            "checklists": list(select.department_checklists(departments)),
            "campaigns": campaigns,
            "watched": watched,
            "runner": allowed(user, MenuAction.RUN_CAMPAIGN, county),
            "results_department": departments[0] if departments else None,
        },
    )


# --------------------------------------------------------------------------- checklists


def _checklist_for(request: AuthedRequest, pk: int) -> Checklist | HttpResponse:
    checklist = get_object_or_404(Checklist.objects.select_related("department__county"), pk=pk)
    if not allowed(request.user, MenuAction.EDIT_CHECKLIST, checklist.department):
        return refused(request, DENIED[MenuAction.EDIT_CHECKLIST], checklist.department.county.path)
    return checklist


def _rows_from_post(data: Any) -> list[dict[str, Any]]:
    count = int(data.get("count") or 0) if str(data.get("count", "")).isdigit() else 0
    return [row_values(data, f"q{i}") for i in range(min(count, 300))]


@require_http_methods(["GET", "POST"])
def checklist_edit(request: AuthedRequest, pk: int | None = None) -> HttpResponse:
    """The checklist editor (部门清单): the title and every question in one form. Add, delete
    and move re-show the form as typed; "save" writes it through ``checklist_save``."""
    user = request.user
    checklist: Checklist | None = None
    if pk is not None:
        found = _checklist_for(request, pk)
        if isinstance(found, HttpResponse):
            return found
        checklist = found
        departments = [checklist.department]
    else:
        county = select.user_county(user)
        departments = departments_for(user, county) if county is not None else []
        if not departments:
            return forbidden(request, DENIED[MenuAction.EDIT_CHECKLIST])
    editable = checklist is None or checklist.state == ChecklistState.DRAFT
    status = 200
    errors: dict[str, list[str]] = {}
    row_errors: dict[int, dict[str, list[str]]] = {}
    form_errors: list[str] = []
    stale = False
    unsaved = False
    if request.method == "POST":
        if not editable:
            return forbidden(
                request, _("This checklist was submitted; it can no longer be changed.")
            )
        data = request.POST
        action = data.get("action", "save")
        title = data.get("title", "")
        department_id = data.get("department", "")
        revision = data.get("revision", "")
        rows = _rows_from_post(data)
        if action.startswith("delete:"):
            num = action.partition(":")[2]
            if num.isdigit() and int(num) < len(rows):
                del rows[int(num)]
            unsaved = True
        elif action == "add":
            rows.append(blank_values())
            unsaved = True
        elif action.startswith(("up:", "down:")):
            verb, _sep, num = action.partition(":")
            i = int(num) if num.isdigit() else -1
            j = i - 1 if verb == "up" else i + 1
            if 0 <= i < len(rows) and 0 <= j < len(rows):
                rows[i], rows[j] = rows[j], rows[i]
            unsaved = True
        elif action == "submit" and checklist is not None:
            try:
                authoring.checklist_submit(
                    by=user, checklist=checklist, context=AuditContext.of(request)
                )
            except PermissionDenied as exc:
                return forbidden(request, exc)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
                return redirect("menus:checklist", pk=checklist.pk)
            messages.success(request, _("Submitted to the organisation department."))
            return redirect("menus:checklist", pk=checklist.pk)
        else:
            department = next((d for d in departments if str(d.pk) == department_id), None)
            if checklist is not None:
                department = checklist.department
            if department is None:
                errors["department"] = [_("Choose the department.")]
                status = 400
            else:
                try:
                    saved = authoring.checklist_save(
                        by=user,
                        department=department,
                        title=title,
                        questions=[values_spec(v) for v in rows],
                        checklist=checklist,
                        revision=int(revision) if revision.isdigit() else None,
                        context=AuditContext.of(request),
                    )
                except PermissionDenied as exc:
                    return forbidden(request, exc)
                except StaleEdit:
                    stale = True
                    status = 409
                except ValidationError as exc:
                    status = 400
                    if hasattr(exc, "error_dict"):
                        errors.update({k: v for k, v in exc.message_dict.items() if k == "title"})
                        row_errors, form_errors = question_errors(exc, list(range(len(rows))))
                    else:
                        form_errors = list(exc.messages)
                else:
                    messages.success(
                        request,
                        _("Saved: %(n)d questions.") % {"n": saved.questions.count()},
                    )
                    return redirect("menus:checklist", pk=saved.pk)
    else:
        title = checklist.title if checklist else ""
        department_id = str(departments[0].pk) if departments else ""
        revision = str(checklist.revision) if checklist else ""
        rows = (
            [question_values(q) for q in checklist.questions.all()]
            if checklist
            else [blank_values()]
        )
    return render(
        request,
        "menus/authoring/checklist.html",
        {
            **_editor_context(),
            "checklist": checklist,
            "editable": editable,
            "not_editable": not editable,
            "departments": departments,
            "department_id": str(department_id),
            "title_value": title,
            "revision": revision,
            "rows": [
                {
                    "index": i,
                    "prefix": f"q{i}",
                    "v": v,
                    "errors": row_errors.get(i, {}),
                    "last": i == len(rows) - 1,
                }
                for i, v in enumerate(rows)
            ],
            "count": len(rows),
            "errors": errors,
            "form_errors": form_errors,
            "stale": stale,
            "unsaved": unsaved,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def checklist_upload(request: AuthedRequest) -> HttpResponse:
    """An XLSForm file as a department's checklist: every refusal on its sheet, row and
    column, and nothing saved unless the whole file is taken."""
    user = request.user
    county = select.user_county(user)
    departments = departments_for(user, county) if county is not None else []
    if not departments:
        return forbidden(request, DENIED[MenuAction.EDIT_CHECKLIST])
    refusals: list[Any] = []
    errors: dict[str, str] = {}
    department_id = request.POST.get("department", str(departments[0].pk))
    status = 200
    if request.method == "POST":
        department = next((d for d in departments if str(d.pk) == department_id), None)
        upload = request.FILES.get("file")
        filename = str(upload.name or "") if upload is not None else ""
        if department is None:
            errors["department"] = _("Choose the department.")
        if upload is None:
            errors["file"] = _("Choose the XLSForm file.")
        elif not filename.lower().endswith(UPLOAD_SUFFIXES):
            errors["file"] = _("Upload an XLSForm: a .xlsx, .xls, .csv or .md file.")
        elif (upload.size or 0) > MAX_UPLOAD:
            errors["file"] = _("The file is larger than 5 MB.")
        if errors:
            status = 400
        else:
            from minqing.menus.xlsform import XLSFormRefused

            assert upload is not None and department is not None
            try:
                imported = authoring.checklist_import(
                    by=user,
                    department=department,
                    source=upload.read(),
                    filename=filename,
                    context=AuditContext.of(request),
                )
            except PermissionDenied as exc:
                return forbidden(request, exc)
            except XLSFormRefused as exc:
                refusals = exc.refusals
                status = 400
            except ValidationError as exc:
                errors["file"] = " ".join(exc.messages)
                status = 400
            else:
                messages.success(
                    request,
                    _("Imported %(n)d questions from %(file)s.")
                    % {"n": imported.checklist.questions.count(), "file": filename},
                )
                for notice in imported.notices:
                    messages.warning(request, str(notice))
                return redirect("menus:checklist", pk=imported.checklist.pk)
    return render(
        request,
        "menus/authoring/upload.html",
        {
            "departments": departments,
            "department_id": department_id,
            "refusals": refusals,
            "errors": errors,
        },
        status=status,
    )


@require_GET
def checklist_xlsform(request: AuthedRequest, pk: int) -> HttpResponse:
    found = _checklist_for(request, pk)
    if isinstance(found, HttpResponse):
        return found
    from minqing.menus.xlsform import write_xlsform

    out = io.BytesIO()
    write_xlsform(authoring.checklist_form(found), out)
    name = f"{_safe_name(found.department.name)}_{_safe_name(found.title)}.xlsx"
    return _attachment(out.getvalue(), XLSX, name)


# --------------------------------------------------------------------------- the menu


def _menu_for(request: AuthedRequest, pk: int) -> Menu | HttpResponse:
    menu = get_object_or_404(Menu.objects.select_related("county"), pk=pk)
    if not allowed(request.user, MenuAction.COMPOSE, menu.county):
        return refused(request, DENIED[MenuAction.COMPOSE], menu.county.path)
    return menu


@require_http_methods(["GET", "POST"])
def menu_new(request: AuthedRequest) -> HttpResponse:
    """A quarter's menu for the county (its first version is merged on the menu's page)."""
    user = request.user
    county = select.user_county(user)
    if county is None or not allowed(user, MenuAction.COMPOSE, county):
        return forbidden(request, DENIED[MenuAction.COMPOSE])
    today = timezone.localdate()
    values = {
        "year": str(today.year),
        "quarter": str((today.month - 1) // 3 + 1),
        "title": "",
        "greeting": "",
    }
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in values}
        for k in ("year", "quarter"):
            if not values[k].isdigit():
                errors[k] = [_("Give a number.")]
        if not errors:
            try:
                menu = authoring.menu_create(
                    by=user,
                    county=county,
                    year=int(values["year"]),
                    quarter=int(values["quarter"]),
                    title=values["title"],
                    greeting=values["greeting"],
                    context=AuditContext.of(request),
                )
            except PermissionDenied as exc:
                return forbidden(request, exc)
            except ValidationError as exc:
                errors = dict(exc.message_dict)
            else:
                messages.success(request, _("Menu created: %(title)s.") % {"title": menu.title})
                return redirect("menus:menu", pk=menu.pk)
        status = 400
    return render(
        request,
        "menus/authoring/menu_new.html",
        {
            "county": county,
            "v": values,
            "errors": errors,
            "submitted": list(select.submitted_checklists(county)),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def menu_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """合并 — the submitted checklists, the questions several departments ask (accept each
    proposal or keep them separate), the themes' order, then the merge into the draft."""
    found = _menu_for(request, pk)
    if isinstance(found, HttpResponse):
        return found
    menu = found
    user = request.user
    draft = select.draft_version(menu)
    checklists = list(select.submitted_checklists(menu.county))
    proposals = authoring.duplicate_proposals(checklists)
    questions = {q.pk: q for c in checklists for q in c.questions.all()}
    departments = {c.pk: c.department for c in checklists}
    themes = list(draft.themes) if draft else []
    for c in checklists:
        for q in c.questions.all():
            if q.theme and q.theme not in themes:
                themes.append(q.theme)
    chosen = {c.pk for c in checklists}
    decisions = {i: "accept" for i in range(len(proposals))}
    themes_text = "\n".join(themes)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        if draft is None:
            return forbidden(request, _("No version of this menu is being merged."))
        chosen = {int(x) for x in request.POST.getlist("checklist") if x.isdigit()}
        decisions = {
            i: ("keep" if request.POST.get(f"p{i}") == "keep" else "accept")
            for i in range(len(proposals))
        }
        themes_text = request.POST.get("themes", "")
        picked = [c for c in checklists if c.pk in chosen]
        groups = []
        for i, p in enumerate(proposals):
            if decisions[i] != "accept":
                continue
            ids = [q for q in p.question_ids if questions[q].checklist_id in chosen]
            if len(ids) > 1:
                groups.append(ids)
        if not picked:
            errors.append(_("Choose at least one checklist to merge."))
        else:
            order = [t for t in themes_text.splitlines() if t.strip()]
            try:
                with transaction.atomic():
                    made = authoring.menu_merge(
                        by=user,
                        version=draft,
                        checklists=picked,
                        groups=groups,
                        context=AuditContext.of(request),
                    )
                    draft.refresh_from_db()
                    used = [t for t in draft.themes if t not in order]
                    authoring.version_settings_save(
                        by=user,
                        version=draft,
                        greeting=draft.greeting,
                        themes=[t for t in order if t in draft.themes] + used,
                        context=AuditContext.of(request),
                    )
            except PermissionDenied as exc:
                return forbidden(request, exc)
            except ValidationError as exc:
                errors.extend(exc.messages)
            else:
                messages.success(
                    request,
                    _("Merged %(c)d checklists into %(n)d questions.")
                    % {"c": len(picked), "n": len(made)},
                )
                return redirect("menus:version", menu_pk=menu.pk, number=draft.number)
        status = 400
    proposal_rows = [
        {
            "index": i,
            "score": round(p.score * 100),
            "decision": decisions[i],
            "questions": [
                (departments[questions[q].checklist_id], questions[q]) for q in p.question_ids
            ],
        }
        for i, p in enumerate(proposals)
    ]
    return render(
        request,
        "menus/authoring/menu.html",
        {
            "menu": menu,
            "draft": draft,
            "versions": list(menu.versions.order_by("number")),
            "checklists": checklists,
            "chosen": chosen,
            "proposals": proposal_rows,
            "themes_text": themes_text,
            "errors": errors,
        },
        status=status,
    )


# --------------------------------------------------------------------------- the version


def _version_for(request: AuthedRequest, menu_pk: int, number: int) -> MenuVersion | HttpResponse:
    found = _menu_for(request, menu_pk)
    if isinstance(found, HttpResponse):
        return found
    version = get_object_or_404(MenuVersion, menu=found, number=number)
    version.menu = found
    return version


def _is_id(text: str) -> bool:
    return text.isdigit() and len(text) <= 12


def _rule_values(q: MenuQuestion | None) -> dict[str, Any]:
    if q is None or not q.issue_on:
        return {
            "on": [],
            "category": "",
            "department": "",
            "colour": Colour.BLUE.value,
            "complexity": Complexity.GENERAL.value,
            "shared": True,
        }
    return {
        "on": list(q.issue_on),
        "category": str(q.issue_category_id or ""),
        "department": str(q.issue_department_id or ""),
        "colour": q.issue_colour,
        "complexity": q.issue_complexity,
        "shared": q.issue_shared,
    }


def _rule_from(data: Any, county: Node) -> tuple[dict[str, Any], authoring.IssueRule | None]:
    values = {
        "on": [x for x in data.getlist("rule_on") if x],
        "category": data.get("rule_category", ""),
        "department": data.get("rule_department", ""),
        "colour": data.get("rule_colour", ""),
        "complexity": data.get("rule_complexity", ""),
        "shared": bool(data.get("rule_shared")),
    }
    if not values["on"]:
        return values, None
    category = (
        Category.objects.filter(pk=values["category"]).first()
        if _is_id(values["category"])
        else None
    )
    department = (
        Department.objects.filter(pk=values["department"], county=county).first()
        if _is_id(values["department"])
        else None
    )
    rule = authoring.IssueRule(
        on=values["on"],
        category=category,
        department=department,
        colour=values["colour"],
        complexity=values["complexity"],
        shared=values["shared"],
    )
    return values, rule


@require_http_methods(["GET", "POST"])
def version_edit(request: AuthedRequest, menu_pk: int, number: int) -> HttpResponse:
    """The version editor: greeting, themes' order, each question with its departments and
    issue rule; approve, publish and "next version" by state. Published: read-only."""
    found = _version_for(request, menu_pk, number)
    if isinstance(found, HttpResponse):
        return found
    version = found
    menu = version.menu
    user = request.user
    here = reverse("menus:version", kwargs={"menu_pk": menu.pk, "number": version.number})
    county_departments = list(
        Department.objects.filter(county=menu.county, kind=Department.Kind.DEPARTMENT).order_by(
            "name"
        )
    )
    questions = list(
        version.questions.select_related("issue_category", "issue_department").prefetch_related(
            "departments"
        )
    )
    editable = version.state == VersionState.DRAFT
    status = 200
    settings_values = {"greeting": version.greeting, "themes": "\n".join(version.themes)}
    settings_errors: dict[str, list[str]] = {}
    stale = False
    edit_key = request.GET.get("edit", "")
    editing: MenuQuestion | None = None
    q_values: dict[str, Any] | None = None
    q_departments: list[str] = []
    rule_values = _rule_values(None)
    q_errors: dict[str, list[str]] = {}
    q_other_errors: list[str] = []
    if _is_id(edit_key):
        editing = next((q for q in questions if q.pk == int(edit_key)), None)
        if editing is None:
            raise Http404
        q_values = question_values(editing)
        q_departments = [str(d.pk) for d in editing.departments.all()]
        rule_values = _rule_values(editing)
    elif edit_key == "new":
        q_values = blank_values()
    if request.method == "POST":
        if version.frozen:
            return forbidden(
                request, _("This version is published and never changes; make a new version.")
            )
        action = request.POST.get("action", "")
        revision = request.POST.get("revision", "")
        rev = int(revision) if revision.isdigit() else None
        ctx = AuditContext.of(request)
        try:
            if action == "settings":
                settings_values = {
                    "greeting": request.POST.get("greeting", ""),
                    "themes": request.POST.get("themes", ""),
                }
                try:
                    authoring.version_settings_save(
                        by=user,
                        version=version,
                        greeting=settings_values["greeting"],
                        themes=settings_values["themes"].splitlines(),
                        revision=rev,
                        context=ctx,
                    )
                except ValidationError as exc:
                    if not hasattr(exc, "error_dict"):
                        raise
                    settings_errors = exc.message_dict
                    status = 400
                else:
                    messages.success(request, _("Greeting and themes saved."))
                    return redirect(here)
            elif action == "question":
                q_values = row_values(request.POST, "q")
                q_departments = request.POST.getlist("departments")
                rule_values, rule = _rule_from(request.POST, menu.county)
                picked = [d for d in county_departments if str(d.pk) in q_departments]
                try:
                    saved = authoring.version_question_save(
                        by=user,
                        version=version,
                        spec=values_spec(q_values),
                        departments=picked,
                        rule=rule,
                        question=editing,
                        revision=rev,
                        context=ctx,
                    )
                except ValidationError as exc:
                    if not hasattr(exc, "error_dict"):
                        raise
                    others = [q for q in questions if editing is None or q.pk != editing.pk]
                    mine = len(others) if editing is None else questions.index(editing)
                    positions = [-1] * (len(others) + 1)
                    positions[mine] = 0
                    by_row, q_other_errors = question_errors(exc, positions)
                    q_errors = by_row.get(0, {})
                    for key, msgs in exc.message_dict.items():
                        if key.startswith("rule"):
                            q_errors.setdefault(key, []).extend(msgs)
                    q_other_errors = [
                        m for m in q_other_errors if all(m not in v for v in q_errors.values())
                    ]
                    status = 400
                else:
                    messages.success(request, _("Question %(name)s saved.") % {"name": saved.name})
                    return redirect(f"{here}#q-{saved.pk}")
            elif action == "delete" and editing is not None:
                authoring.version_question_delete(by=user, question=editing, context=ctx)
                messages.success(request, _("Question %(name)s deleted.") % {"name": editing.name})
                return redirect(here)
            elif action == "approve":
                authoring.version_approve(by=user, version=version, context=ctx)
                messages.success(request, _("Approved. Publish it to send it out."))
                return redirect(here)
            elif action == "publish":
                authoring.version_publish(by=user, version=version, context=ctx)
                messages.success(request, _("Published: open campaigns ask this version now."))
                return redirect(here)
            else:
                return redirect(here)
        except PermissionDenied as exc:
            return forbidden(request, exc)
        except StaleEdit:
            stale = True
            status = 409
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(f"{here}?edit={edit_key}" if edit_key else here)
    groups = _by_theme(version, questions)
    choice_names = (
        values_spec(q_values).choices if q_values is not None and q_values["qtype"] else []
    )
    has_draft = menu.versions.filter(state=VersionState.DRAFT).exists()
    composer = allowed(user, MenuAction.COMPOSE, menu.county)
    return render(
        request,
        "menus/authoring/version.html",
        {
            **_editor_context(),
            "menu": menu,
            "version": version,
            "editable": editable,
            "composer": composer,
            "can_next": composer and version.frozen and not has_draft,
            "groups": groups,
            "settings": settings_values,
            "settings_errors": settings_errors,
            "stale": stale,
            "editing": editing,
            "edit_key": edit_key,
            "q": q_values,
            "q_errors": q_errors,
            "q_other_errors": q_other_errors,
            "q_departments": q_departments,
            "rule": rule_values,
            "rule_choices": choice_names,
            "county_departments": county_departments,
            "categories": list(Category.objects.filter(active=True).order_by("name")),
            "colours": [(c, str(label)) for c, label in Colour.choices if c != Colour.GREEN],
            "complexities": [(c, str(label)) for c, label in Complexity.choices],
            "versions": list(menu.versions.order_by("number")),
        },
        status=status,
    )


def _by_theme(version: MenuVersion, questions: list[MenuQuestion]) -> list[dict[str, Any]]:
    colours = dict(Colour.choices)
    complexities = dict(Complexity.choices)
    by_theme: dict[str, list[MenuQuestion]] = {}
    for q in questions:
        spec = q.to_spec()
        labels = {c.name: c.label_zh for c in spec.choices}
        q.type_label = QTYPE_LABELS.get(spec.type, q.qtype)  # type: ignore[attr-defined]
        q.applies_label = APPLIES_LABELS.get(spec.applies, q.applies)  # type: ignore[attr-defined]
        q.rule_on_text = "、".join(labels.get(n, n) for n in q.issue_on)  # type: ignore[attr-defined]
        q.colour_label = colours.get(q.issue_colour, q.issue_colour)  # type: ignore[attr-defined]
        q.complexity_label = complexities.get(  # type: ignore[attr-defined]
            q.issue_complexity, q.issue_complexity
        )
        by_theme.setdefault(q.theme, []).append(q)
    order = [t for t in version.themes if t in by_theme]
    order += [t for t in by_theme if t and t not in order]
    if "" in by_theme:
        order.append("")
    return [{"theme": t, "questions": by_theme[t]} for t in order]


@require_http_methods(["POST"])
def version_new(request: AuthedRequest, menu_pk: int, number: int) -> HttpResponse:
    """再出一版 — a draft copy of a published version."""
    found = _version_for(request, menu_pk, number)
    if isinstance(found, HttpResponse):
        return found
    try:
        new = authoring.version_next(
            by=request.user,
            version=found,
            change_note=request.POST.get("change_note", ""),
            context=AuditContext.of(request),
        )
    except PermissionDenied as exc:
        return forbidden(request, exc)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("menus:version", menu_pk=menu_pk, number=number)
    messages.success(
        request,
        _("Version %(n)d started from version %(m)d.")
        % {
            "n": new.number,
            "m": found.number,
        },
    )
    return redirect("menus:version", menu_pk=menu_pk, number=new.number)


def _kind(request: AuthedRequest) -> str | None:
    kind = request.GET.get("version", "")
    if kind not in ("urban", "rural"):
        raise Http404
    return kind


def _version_label(version: MenuVersion, kind: str) -> str:
    menu = version.menu
    return _("%(year)d Q%(quarter)d · %(kind)s · version %(number)d") % {
        "year": menu.year,
        "quarter": menu.quarter,
        "kind": APPLIES_LABELS[Applies(kind)],
        "number": version.number,
    }


@require_GET
def version_xlsform(request: AuthedRequest, menu_pk: int, number: int) -> HttpResponse:
    found = _version_for(request, menu_pk, number)
    if isinstance(found, HttpResponse):
        return found
    kind = _kind(request)
    from minqing.menus.xlsform import write_xlsform

    out = io.BytesIO()
    write_xlsform(authoring.version_form(found, kind), out)
    name = f"{_safe_name(found.menu.title)}_{_safe_name(_version_label(found, str(kind)))}.xlsx"
    return _attachment(out.getvalue(), XLSX, name)


@require_GET
def version_paper(request: AuthedRequest, menu_pk: int, number: int) -> HttpResponse:
    """纸质问卷 — the version's A4 paper form for one kind of household."""
    found = _version_for(request, menu_pk, number)
    if isinstance(found, HttpResponse):
        return found
    return paper_form_response(request, found, str(_kind(request)))


def paper_form_response(request: AuthedRequest, version: MenuVersion, kind: str) -> HttpResponse:
    """The version's A4 paper form for ``kind`` (urban/rural) households, as a download; a
    page saying what to install (503) when the server has no font to embed."""
    from minqing.contacts.card_print import CardFontMissing
    from minqing.menus.paper import PaperHeader, paper_form_pdf

    menu = version.menu
    label = _version_label(version, kind)
    header = PaperHeader(
        county=menu.county.name,
        title=menu.title,
        version_label=label,
        version_code=f"M{menu.pk}-V{version.number}-{kind}",
    )
    try:
        body = paper_form_pdf(authoring.version_form(version, kind), header)
    except CardFontMissing as exc:
        return render(request, "menus/paper_unavailable.html", {"message": str(exc)}, status=503)
    name = f"{_safe_name(menu.county.name)}_{_safe_name(menu.title)}_{_safe_name(label)}.pdf"
    return _attachment(body, "application/pdf", name)


urlpatterns: list[URLPattern] = [
    path("", index, name="index"),
    path("checklists/new/", checklist_edit, name="checklist_new"),
    path("checklists/upload/", checklist_upload, name="checklist_upload"),
    path("checklists/<int:pk>/", checklist_edit, name="checklist"),
    path("checklists/<int:pk>/xlsform/", checklist_xlsform, name="checklist_xlsform"),
    path("new/", menu_new, name="menu_new"),
    path("<int:pk>/", menu_detail, name="menu"),
    path("<int:menu_pk>/v<int:number>/", version_edit, name="version"),
    path("<int:menu_pk>/v<int:number>/next/", version_new, name="version_next"),
    path("<int:menu_pk>/v<int:number>/xlsform/", version_xlsform, name="version_xlsform"),
    path("<int:menu_pk>/v<int:number>/paper/", version_paper, name="version_paper"),
]
