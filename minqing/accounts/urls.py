from django.urls import path

from minqing.accounts.views import admin as views_admin
from minqing.accounts.views import auth as views
from minqing.accounts.views import otp as views_otp
from minqing.accounts.views import tokens as views_tokens

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("tokens/", views_tokens.tokens, name="tokens"),
    path("tokens/all/", views_tokens.tokens_all, name="tokens_all"),
    path("tokens/<int:pk>/revoke/", views_tokens.token_revoke, name="token_revoke"),
    path("otp/", views_otp.otp_settings, name="otp_settings"),
    path("otp/enrol/", views_otp.otp_enrol, name="otp_enrol"),
    path("otp/verify/", views_otp.otp_verify, name="otp_verify"),
    path("otp/recovery-codes/", views_otp.otp_recovery_codes, name="otp_recovery_codes"),
    path("users/", views_admin.user_list, name="users"),
    path("users/new/", views_admin.user_create, name="user_create"),
    path("users/<int:pk>/", views_admin.user_detail, name="user_detail"),
    path("users/<int:pk>/disable/", views_admin.user_disable, name="user_disable"),
    path("users/<int:pk>/enable/", views_admin.user_enable, name="user_enable"),
    path("users/<int:pk>/password/", views_admin.user_password_reset, name="user_password_reset"),
    path("users/<int:pk>/otp-reset/", views_admin.user_otp_reset, name="user_otp_reset"),
    path("users/<int:pk>/roles/", views_admin.role_grant, name="role_grant"),
    path(
        "users/<int:pk>/roles/<int:assignment_pk>/revoke/",
        views_admin.role_revoke,
        name="role_revoke",
    ),
]
