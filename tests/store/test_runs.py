import pytest

from audience.store.runs import segment_slug


@pytest.mark.parametrize(
    ("name", "slug"),
    [("Can't Lose Them", "cant-lose-them"), ("At Risk", "at-risk"), ("  Lost!  ", "lost")],
)
def test_segment_slug_is_lower_case_words_joined_by_hyphens(name: str, slug: str) -> None:
    assert segment_slug(name) == slug
