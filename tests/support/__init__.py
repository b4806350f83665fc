"""Test helpers shared by tests/ and bench/ (throwaway servers, factories)."""
