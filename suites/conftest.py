"""The gate suites run with moegate's pytest plugin (registered as the `moegate` pytest11 entry point)."""
