"""Loaded by every Python subprocess the tests start (tests/support/hermetic.py puts this folder
on PYTHONPATH): the loopback-only socket guard, and coverage measurement when
COVERAGE_PROCESS_START names a coverage configuration."""

import os

if os.environ.get("COVERAGE_PROCESS_START"):
    try:
        import coverage

        coverage.process_startup()
    except ImportError:
        pass

if os.environ.get("TMR_TEST_HERMETIC") == "1":
    try:
        from tests.support.hermetic import install
    except ImportError:  # the repository root is not importable from here
        import importlib.util
        import pathlib

        spec = importlib.util.spec_from_file_location(
            "tmr_tests_hermetic", pathlib.Path(__file__).parents[1] / "hermetic.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        install = module.install
    install()
