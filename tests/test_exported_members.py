import audience


def test_public_api_is_exactly_the_sorted_all() -> None:
    assert audience.__all__ == sorted(audience.__all__)
    public = {name for name in dir(audience) if not name.startswith("_")}
    modules = {
        "cli",
        "config",
        "console",
        "demo",
        "errors",
        "ingest",
        "pipeline",
        "store",
        "synth",
        "validate",
        "workspace",
    }
    assert public - modules == set(audience.__all__) - {"__version__"}
