"""Scrapy spiders for public sources (also usable as a plain Scrapy project)."""
