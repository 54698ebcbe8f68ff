"""The store: posts, scores, entities, decisions and the audit log in SQLite or PostgreSQL.

>>> from signalering.store import Store
>>> with Store.open("sqlite:///signalering.db") as store:  # doctest: +SKIP
...     store.save_posts(posts)
"""

from __future__ import annotations

from signalering.store import accounts as _accounts  # noqa: F401  (registers its tables)
from signalering.store import links as _links  # noqa: F401  (registers its tables)
from signalering.store import retention as _retention  # noqa: F401  (registers its tables)
from signalering.store.store import SaveResult, Store

__all__ = ["SaveResult", "Store"]
