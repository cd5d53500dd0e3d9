"""Test support code: real local servers and fixtures shared by the test suite."""
