"""Notification templates with Jinja2: the ``TemplateRenderer`` port (nothing else in the
project imports ``jinja2``)."""

from adapters.jinja.renderer import PATH_PREFIX, JinjaTemplateRenderer

__all__ = ["PATH_PREFIX", "JinjaTemplateRenderer"]
