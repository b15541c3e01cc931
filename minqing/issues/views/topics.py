"""一类事 — alike issues across places proposed as groups, and the topics made of them."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from minqing.accounts.middleware import AuthedRequest
from minqing.accounts.scope import scope_for
from minqing.issues import permissions, selectors, services
from minqing.issues.models import Category, Issue
from minqing.issues.topics import alike_groups
from minqing.issues.views.common import int_or_404
from minqing.lib.context import AuditContext
from minqing.lib.errors import PermissionDenied
from minqing.lib.views import forbidden


@require_GET
def topics(request: AuthedRequest) -> HttpResponse:
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
            category_id=int_or_404(category) if category else None,
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
def topic_create(request: AuthedRequest) -> HttpResponse:
    ids = [int(i) for i in request.POST.getlist("issue") if str(i).isdigit()]
    issues = list(Issue.objects.visible_to(request.user).filter(pk__in=ids))
    try:
        services.topic_create(
            by=request.user,
            title=request.POST.get("title", ""),
            issues=issues,
            note=request.POST.get("note", ""),
            context=AuditContext.of(request),
        )
    except ValidationError as exc:
        for msg in exc.messages:
            messages.error(request, msg)
    except PermissionDenied as exc:
        return forbidden(request, exc)
    else:
        messages.success(request, _("Topic created."))
    return redirect("issues:topics")
