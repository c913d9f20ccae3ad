"""``{% load leadkit %}``: ``{% leadkit_form %}`` and ``{% landing_url url %}``, defined in :mod:`leadkit.django`."""

from ..django import register

__all__ = ["register"]
