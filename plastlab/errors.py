"""One exception family for everything plastlab refuses, so the CLI can turn it into one line."""


class PlastlabError(Exception):
    """Base class: a problem with the user's input, reported before any simulation starts."""


class RuleError(PlastlabError):
    """A rule that cannot be parsed, validated or compiled.

    The message names where the problem is: the file, the section and the offending term.
    """

    def __init__(self, message, *, file=None, section=None, term=None):
        self.message, self.file, self.section, self.term = message, file, section, term
        super().__init__(self._render())

    def _render(self):
        where = ": ".join(str(p) for p in (self.file, f"[{self.section}]" if self.section else None) if p)
        detail = self.message
        if self.term and f"'{self.term}'" not in detail:
            detail = f"{detail} (in '{self.term}')"
        return f"{where}: {detail}" if where else detail

    def located(self, *, file=None, section=None):
        """The same error with the file and section filled in where they were still unknown."""
        return RuleError(self.message, file=self.file or file, section=self.section or section, term=self.term)


class DataError(PlastlabError):
    """A data set (CSV, targets, ...) that cannot be used as given."""


class ConfigError(PlastlabError):
    """An experiment, campaign or command-line setting that is unknown, of the wrong type or out of range.

    The message names the file, the table and the key, like RuleError.
    """

    def __init__(self, message, *, file=None, section=None, key=None):
        self.message, self.file, self.section, self.key = message, file, section, key
        where = ": ".join(str(p) for p in (file, f"[{section}]" if section else None) if p)
        detail = f"'{key}': {message}" if key else message
        super().__init__(f"{where}: {detail}" if where else detail)
