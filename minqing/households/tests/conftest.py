"""The issue-loop fixtures, for the search that finds issues beside households."""

from minqing.issues.tests.conftest import (  # noqa: F401 - fixtures
    clock,
    departments,
    irrigation,
    register,
    town,
    water,
)
