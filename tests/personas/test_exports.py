import inspect

import audience.personas


def isort_order(name: str) -> tuple[int, str]:
    """The order ruff (RUF022) keeps ``__all__`` in: CONSTANTS, then Classes, then functions."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[0].isupper() else (2, name)


def test_public_api_is_exactly_the_sorted_all() -> None:
    names = audience.personas.__all__
    assert names == sorted(names, key=isort_order)
    public = {
        name
        for name, value in vars(audience.personas).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public == set(names)
