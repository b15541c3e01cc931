from django.urls import path

from minqing.accounts import views, views_otp, views_tokens

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
]
