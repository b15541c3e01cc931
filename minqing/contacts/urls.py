"""Contact-network pages, included at /contacts/. Each page module keeps its own patterns."""

from minqing.contacts.urls_ledger import urlpatterns as ledger_patterns
from minqing.contacts.urls_manage import urlpatterns as manage_patterns

app_name = "contacts"
urlpatterns = [*ledger_patterns, *manage_patterns]
