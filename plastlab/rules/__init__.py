"""DEFINE: rules as equations (whitelist parser, Rule, checks, rule files, learning windows). No networks here."""
