"""The ledger (包保联系台账), the coverage report and contact cards (联系卡)."""

urlpatterns: list = []
