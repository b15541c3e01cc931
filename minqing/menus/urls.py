"""Quarterly-menu pages, included at /menus/, one module per area: authoring (checklists, menus,
versions, the paper form), paper entry, campaigns (start, progress, tasks, quality,
back-checks), results (a department's answers, charts, xlsx) and the phone (tasks, the form)."""

from minqing.menus.views import authoring, campaigns, paper_entry, phone, results

app_name = "menus"
urlpatterns = [
    *authoring.urlpatterns,
    *paper_entry.urlpatterns,
    *campaigns.urlpatterns,
    *results.urlpatterns,
    *phone.urlpatterns,
]
