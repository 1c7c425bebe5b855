import pytest

from radscholar_core.errors import InvalidArgument
from radscholar_core.paging import MAX_PAGE_SIZE, Page


def test_pages_walk_a_listing() -> None:
    items = list(range(7))
    seen, token = [], ""
    while True:
        page = Page.of(3, token)
        chunk = items[page.offset : page.offset + page.limit]
        seen += chunk
        token = page.next_token(len(chunk), len(items))
        if not token:
            break
    assert seen == items


def test_page_size_defaults_and_caps() -> None:
    assert Page.of(0, "").limit == 50
    assert Page.of(10**6, "").limit == MAX_PAGE_SIZE


@pytest.mark.parametrize("token", ["garbage", "eyJ4IjogMX0=", "eyJvIjogLTF9"])
def test_forged_tokens_are_invalid_argument(token: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        Page.of(10, token)
    assert error.value.reason == "INVALID_PAGE_TOKEN"


def test_negative_page_size_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        Page.of(-1, "")
