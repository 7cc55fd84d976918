"""The sweep specs behind the figures (TOML), installed as the package data ``twolayer.specs``."""
