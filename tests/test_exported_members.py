import inspect

import audience


def test_public_api_is_exactly_the_sorted_all() -> None:
    assert audience.__all__ == sorted(audience.__all__)
    public = {
        name
        for name, value in vars(audience).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public == set(audience.__all__) - {"__version__"}
    for name in audience.__all__:
        assert hasattr(audience, name)
