def main_handler(event, context)
    return "never"
