"""``python -m confgen`` and the ``confgen`` command: both start here."""

import gc


def main() -> None:
    # Start-up creates ~20 000 objects (click's and confgen's modules, classes and functions)
    # that all live until the process exits. The cycle collector, run every few hundred new
    # objects, would walk them again and again while they are imported and while the command
    # runs, and find nothing to free: it is paused while they are imported, then they are
    # frozen out of its reach. Measured on `confgen lint`: 3.6 ms of collections become 1.2 ms.
    gc.disable()
    try:
        from confgen.cli import run
    finally:
        gc.freeze()
        gc.enable()
    run()


if __name__ == "__main__":
    main()
