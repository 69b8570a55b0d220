"""One exception family for everything plastlab refuses, so the CLI can turn it into one line."""


class PlastlabError(Exception):
    """Base class: a problem with the user's input, reported before any simulation starts."""


class RuleError(PlastlabError):
    """A rule that cannot be parsed, validated or compiled.

    The message names where the problem is: the file, the section and the offending term.
    """

    def __init__(self, message, *, file=None, section=None, term=None):
        self.file, self.section, self.term = file, section, term
        where = ": ".join(str(part) for part in (file, f"[{section}]" if section else None) if part)
        detail = f"{message} (in '{term}')" if term and term not in message else message
        super().__init__(f"{where}: {detail}" if where else detail)

    def located(self, *, file=None, section=None):
        """The same error with a file and/or section filled in where they were unknown."""
        return RuleError(self.bare, file=self.file or file, section=self.section or section, term=self.term)

    @property
    def bare(self):
        text = str(self)
        where = ": ".join(str(p) for p in (self.file, f"[{self.section}]" if self.section else None) if p)
        return text[len(where) + 2:] if where and text.startswith(where + ": ") else text


class DataError(PlastlabError):
    """A data set (CSV, targets, ...) that cannot be used as given."""
