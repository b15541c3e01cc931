"""Contact-network pages, included at /contacts/."""

from django.urls import path

from minqing.contacts.views import cards, ledger, liaisons, rules, runs

app_name = "contacts"

#: The ledger (包保联系台账), the coverage report and contact cards (联系卡): reading pages.
ledger_patterns = [
    path("places/<int:node_pk>/ledger/", ledger.ledger, name="ledger"),
    path("places/<int:node_pk>/ledger.xlsx", ledger.ledger_xlsx, name="ledger_xlsx"),
    path("places/<int:node_pk>/coverage/", ledger.coverage, name="coverage"),
    path("places/<int:node_pk>/cards/", cards.cards, name="cards"),
    path("places/<int:node_pk>/cards.pdf", cards.cards_pdf, name="cards_pdf"),
]
#: Liaisons, hand-set links, assignment runs and the rules: the pages that change the network.
manage_patterns = [
    path("places/<int:node_pk>/liaisons/", liaisons.liaison_list, name="liaisons"),
    path("places/<int:node_pk>/liaisons/add/", liaisons.liaison_add, name="liaison_add"),
    path("liaisons/<int:pk>/edit/", liaisons.liaison_edit, name="liaison_edit"),
    path("liaisons/<int:pk>/retire/", liaisons.liaison_retire, name="liaison_retire"),
    path("households/<int:household_pk>/link/", liaisons.link_set, name="link_set"),
    path("links/<int:pk>/release/", liaisons.link_release, name="link_release"),
    path("places/<int:node_pk>/runs/", runs.run_list, name="runs"),
    path("places/<int:node_pk>/runs/start/", runs.run_start, name="run_start"),
    path("places/<int:node_pk>/rules/", rules.rules, name="rules"),
]
urlpatterns = [*ledger_patterns, *manage_patterns]
