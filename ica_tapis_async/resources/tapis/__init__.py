"""Tapis resources."""

from .transfers import Transfers

__all__ = ("Transfers",)
