"""Django finds template tag libraries here: ``{% load leadkit %}`` loads :mod:`leadkit.templatetags.leadkit`."""
