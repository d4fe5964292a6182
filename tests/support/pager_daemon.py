"""``threadline`` with the test-only ``pager`` channel listed, as a channel joins the daemon:
``python -m tests.support.pager_daemon run --config PATH``."""

from tests.support.pager import PAGER
from threadline.daemon.channels import CHANNELS
from threadline.daemon.cli.main import main

CHANNELS.append(PAGER)

if __name__ == "__main__":
    main()
