"""One landing page. leadkit's own routes (``/leadkit/order``...) never reach Django: the wrapper answers them."""

from django.urls import path
from django.views.generic import TemplateView

urlpatterns = [
    path("", TemplateView.as_view(template_name="landing.html"), name="landing"),
]
