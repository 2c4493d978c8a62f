"""A Python function with one pure-Python and one binary requirement, vendored by scfrt package."""
import markupsafe
import markupsafe._speedups  # the C extension: fails to import unless built for this CPython
import six


def main_handler(event, context):
    return {
        "escaped": str(markupsafe.escape(event["html"])),
        "speedups": markupsafe._speedups.__file__.rsplit("/", 1)[-1],
        "six": six.__version__,
        "markupsafe_from": markupsafe.__file__,
    }
