"""Test support: fixtures for real services the tests run against."""
