"""The rule library as package data (plastlab.rule_library): TOML rule files, found via importlib.resources."""
