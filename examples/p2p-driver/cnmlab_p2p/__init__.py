"""cnmlab-p2p: an example third-party network driver for cnmlab (see driver.py)."""
