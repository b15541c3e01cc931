"""The accounts' pages: ``auth`` (login, logout, password), ``otp`` (the second factor),
``tokens`` (API tokens), ``admin`` (the security administrator's account pages)."""
