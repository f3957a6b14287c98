"""The lab that builds the embedded tiny biomedical MoE shipped in ``fixtures/tiny-moe``: a synthetic world,
its datasets in the official formats, and the staged training recipe (``docs/tiny-moe.md``). A test fixture's
builder, not the product: nothing under ``harness/`` imports it. ``python -m tools.tiny_moe --help``."""
