"""Department checklists and the quarter's menu: draft → submitted → merged → approved →
published, each step audited. A published version never changes; ``version_next`` copies it
into the next draft."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.audit.actions import AuditAction
from minqing.audit.services import audit_record
from minqing.issues.models import Category, Colour, Complexity
from minqing.lib.context import AuditContext
from minqing.lib.errors import InvalidTransition, StaleEdit
from minqing.menus.errors import MenuErrorCode
from minqing.menus.models import (
    Checklist,
    ChecklistQuestion,
    ChecklistState,
    Menu,
    MenuQuestion,
    MenuVersion,
    QuestionFields,
    VersionState,
)
from minqing.menus.permissions import MenuAction, require
from minqing.menus.spec import APPLIES_LABELS, CHOICE_TYPES, Applies, FormSpec, QuestionSpec
from minqing.org.models import Department, Level, Node


def _problems_to_error(form: FormSpec) -> None:
    """Raise the form's problems as one ``ValidationError`` keyed ``questions.N.field``."""
    from minqing.menus.checks import check_form

    problems = check_form(form)
    if problems:
        errors = {
            (f"questions.{p.index}.{p.field}" if p.index >= 0 else "questions"): (
                ValidationError(p.message, code=p.code)
            )
            for p in problems
        }
        raise ValidationError(errors)


def _title(title: str) -> str:
    text = " ".join(str(title or "").split())
    if not text:
        raise ValidationError(
            {"title": ValidationError(_("Give it a title."), code=MenuErrorCode.LABEL_REQUIRED)}
        )
    if len(text) > 200:
        raise ValidationError(
            {"title": ValidationError(_("At most 200 characters."), code="max_length")}
        )
    return text


# --------------------------------------------------------------------------- checklists


def checklist_save(
    *,
    by: User,
    department: Department,
    title: str,
    questions: Sequence[QuestionSpec],
    checklist: Checklist | None = None,
    revision: int | None = None,
    source_file: str = "",
    context: AuditContext | None = None,
) -> Checklist:
    """Write a department's checklist (a new one, or a draft's new wording).

    ``revision`` is the revision the editor opened; a save over a later one is refused
    (``StaleEdit``) so nobody's questions are overwritten unseen."""
    require(by, MenuAction.EDIT_CHECKLIST, department)
    title = _title(title)
    _problems_to_error(FormSpec(title, list(questions)))
    now = timezone.now()
    with transaction.atomic():
        if checklist is None:
            checklist = Checklist.objects.create(
                department=department,
                county_id=department.county_id,
                title=title,
                source_file=source_file[:255],
                created_by=by,
                created_at=now,
                updated_at=now,
            )
        else:
            if checklist.department_id != department.pk:
                raise ValueError("checklist of another department")
            current = Checklist.objects.select_for_update().get(pk=checklist.pk)
            if current.state != ChecklistState.DRAFT:
                raise InvalidTransition(
                    _("This checklist was submitted; it can no longer be changed."),
                    code=MenuErrorCode.NOT_A_DRAFT,
                )
            if revision is not None and revision != current.revision:
                raise StaleEdit()
            checklist = current
            checklist.title = title
            checklist.revision += 1
            checklist.updated_at = now
            checklist.save(update_fields=["title", "revision", "updated_at"])
            checklist.questions.all().delete()
        ChecklistQuestion.objects.bulk_create(
            ChecklistQuestion(checklist=checklist, position=i, **QuestionFields.spec_fields(q))
            for i, q in enumerate(questions)
        )
        audit_record(
            action=AuditAction.MENUS_CHECKLIST_IMPORT
            if source_file
            else AuditAction.MENUS_CHECKLIST_SAVE,
            user=by,
            context=context,
            obj=checklist,
            detail={
                "department": department.pk,
                "questions": len(questions),
                "revision": checklist.revision,
                **({"file": source_file[:255]} if source_file else {}),
            },
        )
    return checklist


@dataclass
class Imported:
    checklist: Checklist
    notices: list[Any] = field(default_factory=list)  # xlsform.Refusal: kept out, listed


def checklist_import(
    *,
    by: User,
    department: Department,
    source: str | bytes | BinaryIO,
    filename: str,
    context: AuditContext | None = None,
) -> Imported:
    """A department's checklist from an XLSForm file. Raises ``xlsform.XLSFormRefused`` (every
    refusal naming sheet, row and column) and saves nothing when any part is refused."""
    from minqing.menus.xlsform import read_xlsform

    require(by, MenuAction.EDIT_CHECKLIST, department)
    result = read_xlsform(source, filename=filename)
    checklist = checklist_save(
        by=by,
        department=department,
        title=result.form.title or filename,
        questions=result.form.questions,
        source_file=filename or "xlsform",
        context=context,
    )
    return Imported(checklist, list(result.notices))


def checklist_submit(
    *, by: User, checklist: Checklist, context: AuditContext | None = None
) -> Checklist:
    """提交 — the department hands its checklist to the organisation department."""
    require(by, MenuAction.EDIT_CHECKLIST, checklist.department)
    with transaction.atomic():
        current = Checklist.objects.select_for_update().get(pk=checklist.pk)
        if current.state != ChecklistState.DRAFT:
            raise InvalidTransition(
                _("This checklist was already submitted."), code=MenuErrorCode.NOT_A_DRAFT
            )
        if not current.questions.exists():
            raise InvalidTransition(
                _("Add at least one question before submitting."), code=MenuErrorCode.EMPTY
            )
        current.state = ChecklistState.SUBMITTED
        current.submitted_at = timezone.now()
        current.save(update_fields=["state", "submitted_at"])
        audit_record(
            action=AuditAction.MENUS_CHECKLIST_SUBMIT,
            user=by,
            context=context,
            obj=current,
            detail={"department": current.department_id},
        )
    return current


def checklist_form(checklist: Checklist) -> FormSpec:
    return FormSpec(checklist.title, [q.to_spec() for q in checklist.questions.all()])


# --------------------------------------------------------------------------- the menu


def menu_create(
    *,
    by: User,
    county: Node,
    year: int,
    quarter: int,
    title: str = "",
    greeting: str = "",
    context: AuditContext | None = None,
) -> Menu:
    """The quarter's menu, with its first (draft) version."""
    if county.level != Level.COUNTY:
        raise ValueError("a menu belongs to a county")
    require(by, MenuAction.COMPOSE, county)
    errors: dict[str, ValidationError] = {}
    if not 2000 <= int(year) <= 2100:
        errors["year"] = ValidationError(
            _("Give the year, e.g. 2027."), code=MenuErrorCode.BAD_QUARTER
        )
    if int(quarter) not in (1, 2, 3, 4):
        errors["quarter"] = ValidationError(
            _("The quarter is 1, 2, 3 or 4."), code=MenuErrorCode.BAD_QUARTER
        )
    if errors:
        raise ValidationError(errors)
    if Menu.objects.filter(county=county, year=year, quarter=quarter).exists():
        raise ValidationError(
            {
                "quarter": ValidationError(
                    _("This quarter already has a menu."), code=MenuErrorCode.MENU_EXISTS
                )
            }
        )
    title = _title(
        title or _("%(year)d Q%(quarter)d quarterly menu") % {"year": year, "quarter": quarter}
    )
    with transaction.atomic():
        menu = Menu.objects.create(
            county=county, year=year, quarter=quarter, title=title, created_by=by
        )
        MenuVersion.objects.create(menu=menu, number=1, greeting=greeting.strip(), created_by=by)
        audit_record(
            action=AuditAction.MENUS_MENU_CREATE,
            user=by,
            context=context,
            obj=menu,
            detail={"county": county.pk, "year": year, "quarter": quarter},
        )
    return menu


@dataclass(frozen=True)
class Proposal:
    """Questions of different departments that ask the same thing (score ∈ [0, 1])."""

    question_ids: tuple[int, ...]
    score: float


#: Cosine at which two questions are proposed as one (the issues' similarity terms).
DUPLICATE_SCORE = 0.55
#: The frame of a question at a door (家里…是否正常？有没有…？怎么样？): terms made only of
#: these say how it is asked, not what about — "饮水是否正常" and "用电是否正常" are not one.
QUESTION_FRAME = frozenset("是否有没不家里中人全正常怎么样吗呢的了都您你们请问还")


def question_terms(label: str) -> dict[str, int]:
    """The similarity terms of a question's wording, without its frame."""
    from minqing.issues.similarity import terms

    return {t: n for t, n in terms(label).items() if not set(t) <= QUESTION_FRAME}


def duplicate_proposals(checklists: Iterable[Checklist]) -> list[Proposal]:
    """Questions that several departments ask, proposed for merging (组织部合并): the TF-IDF
    cosine of the issues' similarity engine over the questions' labels, between questions of
    different departments with the same kind of answer; clusters joined transitively."""
    questions = [
        (q, c.department_id) for c in checklists for q in c.questions.all() if q.qtype != "note"
    ]
    vectors = []
    df: dict[str, int] = {}
    for q, _dept in questions:
        t = question_terms(q.label_zh)
        vectors.append(t)
        for term in t:
            df[term] = df.get(term, 0) + 1
    n = len(questions)
    weighted = []
    for t in vectors:
        w = {k: (1 + math.log(v)) * (math.log((1 + n) / (1 + df[k])) + 1) for k, v in t.items()}
        norm = math.sqrt(sum(x * x for x in w.values())) or 1.0
        weighted.append({k: x / norm for k, x in w.items()})
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    best: dict[int, float] = {}
    for i in range(n):
        for j in range(i + 1, n):
            (qi, di), (qj, dj) = questions[i], questions[j]
            if di == dj or _answer_kind(qi.qtype) != _answer_kind(qj.qtype):
                continue
            a, b = weighted[i], weighted[j]
            cos = sum(x * b.get(k, 0.0) for k, x in a.items())
            if cos >= DUPLICATE_SCORE:
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[rj] = ri
                root = find(i)
                best[root] = max(best.get(root, 0.0), cos)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(questions[i][0].pk)
    out = [
        Proposal(tuple(sorted(ids)), round(best.get(root, 0.0), 3))
        for root, ids in groups.items()
        if len(ids) > 1
    ]
    return sorted(out, key=lambda p: (-p.score, p.question_ids))


def _answer_kind(qtype: str) -> str:
    if qtype in CHOICE_TYPES:
        return "choice"
    return qtype


def _draft(version: MenuVersion) -> MenuVersion:
    current = MenuVersion.objects.select_for_update().select_related("menu").get(pk=version.pk)
    if current.state != VersionState.DRAFT:
        raise InvalidTransition(
            _("This version is %(state)s and can no longer be changed; start the next version.")
            % {"state": current.get_state_display()},
            code=MenuErrorCode.VERSION_FROZEN,
        )
    return current


def menu_merge(
    *,
    by: User,
    version: MenuVersion,
    checklists: Sequence[Checklist],
    groups: Sequence[Sequence[int]] = (),
    context: AuditContext | None = None,
) -> list[MenuQuestion]:
    """合并 — submitted checklists into a draft version. Each group of checklist question ids
    becomes one menu question (the first one's wording) owned by all their departments; every
    other question comes over as it is. A name two departments both use is made unique."""
    menu = version.menu
    require(by, MenuAction.COMPOSE, menu.county)
    ids = {c.pk for c in checklists}
    with transaction.atomic():
        version = _draft(version)
        rows = list(
            Checklist.objects.select_for_update().filter(pk__in=ids, county_id=menu.county_id)
        )
        if len(rows) != len(ids) or any(c.state != ChecklistState.SUBMITTED for c in rows):
            raise InvalidTransition(
                _("Only submitted checklists of this county can be merged."),
                code=MenuErrorCode.NOT_SUBMITTED,
            )
        by_id = {
            q.pk: q
            for q in ChecklistQuestion.objects.filter(checklist_id__in=ids).select_related(
                "checklist"
            )
        }
        grouped: dict[int, list[ChecklistQuestion]] = {}
        seen: set[int] = set()
        for group in groups:
            members = [by_id[i] for i in group if i in by_id]
            if len(members) != len(group) or len(members) < 2 or seen & set(group):
                raise ValidationError(
                    {
                        "groups": ValidationError(
                            _("A merge names an unknown question or one twice."),
                            code=MenuErrorCode.BAD_MERGE,
                        )
                    }
                )
            if len({_answer_kind(q.qtype) for q in members}) != 1:
                raise ValidationError(
                    {
                        "groups": ValidationError(
                            _("Only questions with the same kind of answer can be merged."),
                            code=MenuErrorCode.BAD_MERGE,
                        )
                    }
                )
            seen |= set(group)
            grouped[members[0].pk] = members
        taken = set(version.questions.values_list("name", flat=True))
        position = (
            version.questions.order_by("-position").values_list("position", flat=True).first() or 0
        ) + 1
        themes = list(version.themes)
        made: list[MenuQuestion] = []
        ordered = sorted(
            by_id.values(), key=lambda q: (q.checklist.department.name, q.checklist_id, q.position)
        )
        for q in ordered:
            if q.pk in seen and q.pk not in grouped:
                continue  # merged into its group's first question
            members = grouped.get(q.pk, [q])
            fields = QuestionFields.spec_fields(q.to_spec())
            fields["name"] = _unique_name(q.name, q.checklist.department.code, taken)
            taken.add(fields["name"])
            # a name the question's own relevant/constraint uses keeps pointing at itself only
            # when the name did not change; references to renamed questions are rewritten below
            mq = MenuQuestion.objects.create(version=version, position=position, **fields)
            position += 1
            mq.departments.set({m.checklist.department_id for m in members})
            mq.sources.set(members)
            made.append(mq)
            if q.theme and q.theme not in themes:
                themes.append(q.theme)
        _rewrite_references(version, made, by_id)
        version.themes = themes
        version.revision += 1
        version.save(update_fields=["themes", "revision"])
        Checklist.objects.filter(pk__in=ids).update(
            state=ChecklistState.MERGED, merged_into=version
        )
        _problems_to_error(version_form(version))
        audit_record(
            action=AuditAction.MENUS_MERGE,
            user=by,
            context=context,
            obj=version,
            detail={
                "checklists": sorted(ids),
                "questions": len(made),
                "merged": [list(g) for g in groups],
            },
        )
    return made


def _unique_name(name: str, department_code: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    base = f"{name}_{department_code}" if department_code else name
    base = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in base)[:60]
    candidate, n = base, 2
    while candidate in taken:
        candidate = f"{base[:58]}_{n}"
        n += 1
    return candidate


def _rewrite_references(
    version: MenuVersion, made: list[MenuQuestion], sources: dict[int, ChecklistQuestion]
) -> None:
    """A checklist's skip logic names its own questions: after renaming and merging, point it
    at the menu's names (``${old}`` of the same checklist → ``${new}``)."""
    new_name: dict[tuple[int, str], str] = {}
    for mq in made:
        for src in mq.sources.all():
            new_name[(src.checklist_id, src.name)] = mq.name
    for mq in made:
        first = mq.sources.order_by("pk").first()
        if first is None:
            continue
        changed = False
        for attr in ("relevant", "constraint"):
            text = getattr(mq, attr)
            if "${" not in text:
                continue
            out = text
            for (checklist_id, old), new in new_name.items():
                if checklist_id == first.checklist_id and old != new:
                    out = out.replace("${" + old + "}", "${" + new + "}")
            if out != text:
                setattr(mq, attr, out)
                changed = True
        if changed:
            mq.save(update_fields=["relevant", "constraint"])


def version_form(version: MenuVersion, kind: str | None = None) -> FormSpec:
    """The version as a ``FormSpec`` (only the questions a ``kind`` household is asked)."""
    form = FormSpec(
        version.menu.title,
        [q.to_spec() for q in version.questions.all()],
        form_id=f"minqing_menu_{version.menu_id}",
        version=str(version.number),
        greeting=version.greeting,
        themes=list(version.themes),
    )
    return form.for_place(kind) if kind else form


@dataclass
class IssueRule:
    """Answers that raise an issue: ``on`` choice names, the issue's category, department,
    colour and complexity; ``shared``: the households of one village raising it join one open
    issue (a shared thing), else each household raises its own."""

    on: list[str]
    category: Category | None = None
    department: Department | None = None
    colour: str = Colour.BLUE
    complexity: str = Complexity.GENERAL
    shared: bool = True


def version_question_save(
    *,
    by: User,
    version: MenuVersion,
    spec: QuestionSpec,
    departments: Sequence[Department],
    rule: IssueRule | None = None,
    question: MenuQuestion | None = None,
    revision: int | None = None,
    context: AuditContext | None = None,
) -> MenuQuestion:
    """Add a question to a draft version or change one; ``revision`` is the version's revision
    the editor opened (a later change by someone else refuses the save)."""
    menu = version.menu
    require(by, MenuAction.COMPOSE, menu.county)
    with transaction.atomic():
        version = _draft(version)
        if revision is not None and revision != version.revision:
            raise StaleEdit()
        others = [q for q in version.questions.all() if question is None or q.pk != question.pk]
        if question is None:
            position = max((q.position for q in others), default=0) + 1
        else:
            position = question.position
        specs = sorted(
            [(q.position, q.pk, q.to_spec()) for q in others] + [(position, 0, spec)],
            key=lambda t: (t[0], t[1] or (question.pk if question else 10**12)),
        )
        form = FormSpec(menu.title, [s for _p, _i, s in specs], themes=list(version.themes))
        _problems_to_error(form)
        _check_rule(spec, rule, menu.county_id)
        if any(d.county_id != menu.county_id for d in departments):
            raise ValueError("a department of another county")
        fields = QuestionFields.spec_fields(spec)
        fields.update(_rule_fields(rule))
        if question is None:
            question = MenuQuestion.objects.create(version=version, position=position, **fields)
        else:
            MenuQuestion.objects.filter(pk=question.pk, version=version).update(**fields)
            question.refresh_from_db()
        question.departments.set(departments)
        if spec.theme and spec.theme not in version.themes:
            version.themes = [*version.themes, spec.theme]
        version.revision += 1
        version.save(update_fields=["themes", "revision"])
        audit_record(
            action=AuditAction.MENUS_VERSION_SAVE,
            user=by,
            context=context,
            obj=version,
            detail={"question": question.name, "revision": version.revision},
        )
    return question


def _rule_fields(rule: IssueRule | None) -> dict[str, Any]:
    if rule is None or not rule.on:
        return {
            "issue_on": [],
            "issue_category": None,
            "issue_department": None,
            "issue_colour": "",
            "issue_complexity": "",
            "issue_shared": True,
        }
    return {
        "issue_on": list(rule.on),
        "issue_category": rule.category,
        "issue_department": rule.department,
        "issue_colour": rule.colour,
        "issue_complexity": rule.complexity,
        "issue_shared": bool(rule.shared),
    }


def _check_rule(spec: QuestionSpec, rule: IssueRule | None, county_id: int) -> None:
    if rule is None or not rule.on:
        return
    problems: dict[str, ValidationError] = {}
    if spec.type not in CHOICE_TYPES:
        problems["rule"] = ValidationError(
            _("Only a choice question can raise an issue."), code=MenuErrorCode.BAD_RULE
        )
    elif not set(rule.on) <= set(spec.choice_names()):
        problems["rule"] = ValidationError(
            _("The rule names an answer that is not a choice of this question."),
            code=MenuErrorCode.BAD_RULE,
        )
    if rule.category is None or not rule.category.active:
        problems["rule_category"] = ValidationError(
            _("Choose the category of the issue it raises."), code=MenuErrorCode.BAD_RULE
        )
    if rule.colour not in Colour.values or rule.colour == Colour.GREEN:
        problems["rule_colour"] = ValidationError(
            _("Choose blue, yellow or orange (green is solved on the spot)."),
            code=MenuErrorCode.BAD_RULE,
        )
    if rule.complexity not in Complexity.values:
        problems["rule_complexity"] = ValidationError(
            _("Unknown complexity."), code=MenuErrorCode.BAD_RULE
        )
    if rule.department is not None and rule.colour not in (Colour.YELLOW, Colour.ORANGE):
        problems["rule_department"] = ValidationError(
            _("A department handles yellow and orange issues; a blue one stays with the village."),
            code=MenuErrorCode.BAD_RULE,
        )
    elif rule.department is not None and rule.department.county_id != county_id:
        problems["rule_department"] = ValidationError(
            _("Choose a department of this county."), code=MenuErrorCode.BAD_RULE
        )
    if problems:
        raise ValidationError(problems)


def version_settings_save(
    *,
    by: User,
    version: MenuVersion,
    greeting: str,
    themes: Sequence[str],
    revision: int | None = None,
    context: AuditContext | None = None,
) -> MenuVersion:
    """The greeting script and the themes' order of a draft version."""
    require(by, MenuAction.COMPOSE, version.menu.county)
    cleaned = [" ".join(t.split()) for t in themes if t.strip()]
    used = set(version.questions.exclude(theme="").values_list("theme", flat=True))
    missing = used - set(cleaned)
    if len(set(cleaned)) != len(cleaned) or missing:
        raise ValidationError(
            {
                "themes": ValidationError(
                    _("List every theme once (missing: %(names)s).")
                    % {"names": "、".join(sorted(missing)) or "—"},
                    code=MenuErrorCode.BAD_THEMES,
                )
            }
        )
    if len(greeting) > 2000:
        raise ValidationError(
            {"greeting": ValidationError(_("At most 2000 characters."), code="max_length")}
        )
    with transaction.atomic():
        version = _draft(version)
        if revision is not None and revision != version.revision:
            raise StaleEdit()
        version.greeting = greeting.strip()
        version.themes = cleaned
        version.revision += 1
        version.save(update_fields=["greeting", "themes", "revision"])
        audit_record(
            action=AuditAction.MENUS_VERSION_SAVE,
            user=by,
            context=context,
            obj=version,
            detail={"themes": cleaned, "revision": version.revision},
        )
    return version


def version_approve(
    *, by: User, version: MenuVersion, context: AuditContext | None = None
) -> MenuVersion:
    """审定 — the draft is checked whole (both versions, urban and rural) and approved."""
    require(by, MenuAction.COMPOSE, version.menu.county)
    with transaction.atomic():
        version = _draft(version)
        form = version_form(version)
        _problems_to_error(form)
        for kind in ("urban", "rural"):
            if not any(q.type != "note" for q in form.for_place(kind).questions):
                raise InvalidTransition(
                    _("The %(version)s asks nothing yet.")
                    % {"version": APPLIES_LABELS[Applies(kind)]},
                    code=MenuErrorCode.EMPTY,
                )
        version.state = VersionState.APPROVED
        version.approved_by, version.approved_at = by, timezone.now()
        version.save(update_fields=["state", "approved_by", "approved_at"])
        audit_record(
            action=AuditAction.MENUS_VERSION_APPROVE,
            user=by,
            context=context,
            obj=version,
            detail={"questions": len(form.questions)},
        )
    return version


def version_publish(
    *, by: User, version: MenuVersion, context: AuditContext | None = None
) -> MenuVersion:
    """发布 — the approved version goes out: open campaigns of the menu ask it from now on
    (answers already made keep the version they answered)."""
    from minqing.menus.models import Campaign, CampaignState

    require(by, MenuAction.COMPOSE, version.menu.county)
    with transaction.atomic():
        current = MenuVersion.objects.select_for_update().get(pk=version.pk)
        if current.state != VersionState.APPROVED:
            raise InvalidTransition(
                _("Only an approved version can be published."), code=MenuErrorCode.NOT_APPROVED
            )
        current.state = VersionState.PUBLISHED
        current.published_by, current.published_at = by, timezone.now()
        current.save(update_fields=["state", "published_by", "published_at"])
        moved = Campaign.objects.filter(menu_id=current.menu_id, state=CampaignState.OPEN).update(
            version=current
        )
        audit_record(
            action=AuditAction.MENUS_VERSION_PUBLISH,
            user=by,
            context=context,
            obj=current,
            detail={"number": current.number, "campaigns": moved},
        )
    return current


def version_next(
    *, by: User, version: MenuVersion, change_note: str = "", context: AuditContext | None = None
) -> MenuVersion:
    """The next version of a published menu: a draft copy to change (the published one stays
    as it is, with its answers)."""
    require(by, MenuAction.COMPOSE, version.menu.county)
    with transaction.atomic():
        current = MenuVersion.objects.select_for_update().get(pk=version.pk)
        if current.state != VersionState.PUBLISHED:
            raise InvalidTransition(
                _("Finish this version first: only a published version has a next one."),
                code=MenuErrorCode.NOT_PUBLISHED,
            )
        if MenuVersion.objects.filter(menu_id=current.menu_id, state=VersionState.DRAFT).exists():
            raise InvalidTransition(
                _("A next version is already being prepared."), code=MenuErrorCode.DRAFT_EXISTS
            )
        last = MenuVersion.objects.filter(menu_id=current.menu_id).order_by("-number").first()
        assert last is not None
        new = MenuVersion.objects.create(
            menu_id=current.menu_id,
            number=last.number + 1,
            greeting=current.greeting,
            themes=list(current.themes),
            based_on=current,
            change_note=change_note.strip()[:500],
            created_by=by,
        )
        for q in current.questions.prefetch_related("departments", "sources"):
            departments = list(q.departments.all())
            sources = list(q.sources.all())
            q.pk = None
            q.id = None
            q.version = new
            q._state.adding = True
            q.save()
            # add(), not set(): set() would compare with the prefetched rows of the question
            # copied from and add nothing.
            q.departments.add(*departments)
            q.sources.add(*sources)
        audit_record(
            action=AuditAction.MENUS_VERSION_NEW,
            user=by,
            context=context,
            obj=new,
            detail={"based_on": current.pk, "number": new.number},
        )
    return new


def version_question_delete(
    *, by: User, question: MenuQuestion, context: AuditContext | None = None
) -> None:
    version = question.version
    require(by, MenuAction.COMPOSE, version.menu.county)
    with transaction.atomic():
        version = _draft(version)
        rest = [q.to_spec() for q in version.questions.exclude(pk=question.pk)]
        _problems_to_error(FormSpec(version.menu.title, rest))
        question.delete()
        version.revision += 1
        version.save(update_fields=["revision"])
        audit_record(
            action=AuditAction.MENUS_VERSION_SAVE,
            user=by,
            context=context,
            obj=version,
            detail={"deleted": question.name, "revision": version.revision},
        )
