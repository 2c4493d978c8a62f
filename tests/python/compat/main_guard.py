"""A handler file that is also a script: its `__main__` block must not run in the function."""

import sys


def main_handler(event, context):
    print("handler ran")
    return {"main_block_ran": globals().get("MAIN_BLOCK_RAN", False)}


if __name__ == "__main__":
    print("the __main__ block ran")
    MAIN_BLOCK_RAN = True
    sys.exit(3)
