"""newsmon: a self-hosted news-alert monitor."""

__version__ = "0.1.0"
