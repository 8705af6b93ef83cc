def test_import():
    import ageflow.core  # noqa: F401
