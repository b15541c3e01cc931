from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "minqing.demo"
    label = "demo"
    verbose_name = "Demo county and benchmark"
