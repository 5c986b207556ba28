"""The built-in rule pack: TOML data files, loaded by keyscan.ruleset."""
