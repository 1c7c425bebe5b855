"""Offset paging behind opaque page tokens (common.v1.PageRequest / PageResponse)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from radscholar_core.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int

    @classmethod
    def of(cls, page_size: int, page_token: str) -> Page:
        """The page a request asks for; a negative size or a forged token is INVALID_ARGUMENT."""
        if page_size < 0:
            raise InvalidArgument(f"page_size must not be negative, got {page_size}", reason="INVALID_PAGE_SIZE")
        limit = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        if not page_token:
            return cls(0, limit)
        try:
            offset = json.loads(base64.urlsafe_b64decode(page_token.encode()))["o"]
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise InvalidArgument("page_token is not a token this server issued", reason="INVALID_PAGE_TOKEN") from None
        if not isinstance(offset, int) or offset < 0:
            raise InvalidArgument("page_token is not a token this server issued", reason="INVALID_PAGE_TOKEN")
        return cls(offset, limit)

    def next_token(self, returned: int, total: int | None = None) -> str:
        """Token of the following page, or "" when this page was the last."""
        end = self.offset + returned
        if returned < self.limit or (total is not None and end >= total):
            return ""
        return base64.urlsafe_b64encode(json.dumps({"o": end}).encode()).decode()
