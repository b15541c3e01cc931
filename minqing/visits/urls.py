"""Visit-diary pages, included at /visits/."""

app_name = "visits"
urlpatterns: list = []
