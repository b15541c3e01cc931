"""The issue-loop fixtures (departments, the town and department users, a settable clock),
for the landing pages that show issue figures."""

from minqing.issues.tests.conftest import (  # noqa: F401 - fixtures
    clock,
    departments,
    irrigation,
    register,
    town,
    water,
)
