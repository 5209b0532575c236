"""Placeholder; replaced by the real CLI."""
def main(argv=None):
    raise SystemExit("not yet")
def flow_main(path, name):
    raise SystemExit("not yet")
