"""The accounts' state changes, used by pages, API, CLI and the worker alike.

- ``auth``: login (normal form, guard, lockout), disabling, passwords, role grants, API tokens
  (its public names are importable from this package);
- ``otp``: the second factor (enrolment, codes, recovery codes);
- ``admin``: the security administrator's account management (who may, then ``auth``).
"""

from minqing.accounts.services.auth import (
    API_TOKEN_PREFIX,
    API_TOKEN_TOUCH_INTERVAL,
    LOCKOUT_FAILURES,
    LOCKOUT_PERIOD,
    BearerRefused,
    LoginRefused,
    api_token_authenticate,
    api_token_issue,
    api_token_login,
    api_token_refusal,
    api_token_revoke,
    bearer_authenticate,
    is_locked_out,
    login_failed,
    login_guard,
    normalise_username,
    password_changed,
    role_assign,
    user_disable,
    user_enable,
)

__all__ = [
    "API_TOKEN_PREFIX",
    "API_TOKEN_TOUCH_INTERVAL",
    "LOCKOUT_FAILURES",
    "LOCKOUT_PERIOD",
    "BearerRefused",
    "LoginRefused",
    "api_token_authenticate",
    "api_token_issue",
    "api_token_login",
    "api_token_refusal",
    "api_token_revoke",
    "bearer_authenticate",
    "is_locked_out",
    "login_failed",
    "login_guard",
    "normalise_username",
    "password_changed",
    "role_assign",
    "user_disable",
    "user_enable",
]
