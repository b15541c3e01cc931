"""Liaisons, hand-set links, assignment runs and the rules."""

urlpatterns: list = []
