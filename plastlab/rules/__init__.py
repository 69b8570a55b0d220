"""DEFINE: rules as equations (whitelist parser, Rule, rule files, learning windows). No networks in here."""
