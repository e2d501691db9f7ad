"""Tests for proxy.store: real Redis and Valkey servers, never fakes."""
