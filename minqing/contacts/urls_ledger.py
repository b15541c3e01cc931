"""The ledger (包保联系台账), the coverage report and contact cards (联系卡)."""

from django.urls import path

from minqing.contacts import views_ledger

urlpatterns: list = [
    path("places/<int:node_pk>/ledger/", views_ledger.ledger, name="ledger"),
    path("places/<int:node_pk>/ledger.xlsx", views_ledger.ledger_xlsx, name="ledger_xlsx"),
    path("places/<int:node_pk>/coverage/", views_ledger.coverage, name="coverage"),
    path("places/<int:node_pk>/cards/", views_ledger.cards, name="cards"),
    path("places/<int:node_pk>/cards.pdf", views_ledger.cards_pdf, name="cards_pdf"),
]
