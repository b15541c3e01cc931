"""The accounts' refusal codes (``account.*``)."""

from __future__ import annotations

from enum import StrEnum

from minqing.lib.errors import register_codes


class AccountErrorCode(StrEnum):
    LOCKED = "account.locked"
    WRONG_CREDENTIALS = "account.wrong_credentials"
    OTP_REQUIRED = "account.otp_required"
    OTP_WRONG = "account.otp_wrong"
    PASSWORD_EXPIRED = "account.password_expired"  # noqa: S105 - an error code, not a secret
    DISABLED = "account.disabled"
    USERNAME_REQUIRED = "account.username_required"
    USERNAME_INVALID = "account.username_invalid"
    USERNAME_TAKEN = "account.username_taken"
    NAME_TOO_LONG = "account.name_too_long"
    PHONE_INVALID = "account.phone_invalid"
    DISABLE_SELF = "account.disable_self"
    UNKNOWN_ROLE = "account.unknown_role"
    ROLE_NEEDS_NODE = "account.role_needs_node"
    ROLE_NEEDS_DEPARTMENT = "account.role_needs_department"
    ROLE_SYSTEM_WIDE = "account.role_system_wide"
    ROLES_SEPARATED = "account.roles_separated"
    TOKEN_DAYS = "account.token_days"  # noqa: S105 - an error code, not a secret
    OTP_ALREADY_SET_UP = "account.otp_already_set_up"
    OTP_RESTART = "account.otp_restart"
    OTP_NOT_SET_UP = "account.otp_not_set_up"
    PASSWORD_CLASSES = "account.password_classes"  # noqa: S105 - an error code, not a secret


register_codes(AccountErrorCode)
