"""Warga: the city's chatbot gateway (the application that composes channels and NLU)."""

__version__ = "0.1.0"
