"""The one error of the release tool: a step that cannot go on."""


class ReleaseError(Exception):
    """A release step cannot go on; the message says why and what to do."""
