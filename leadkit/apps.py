"""Django finds the app's configuration here (``INSTALLED_APPS = [..., "leadkit"]``); see :mod:`leadkit.django`."""

from .django import LeadKitConfig

__all__ = ["LeadKitConfig"]
