"""The quarterly menu's pages, one module per area; each keeps its own ``urlpatterns``."""
