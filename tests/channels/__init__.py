"""Tests for the channel connectors (channels/)."""
