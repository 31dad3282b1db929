"""Test support code: helpers the test modules share, and the builders of the real tools they run."""
